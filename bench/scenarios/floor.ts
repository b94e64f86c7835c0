/**
 * The Data API floor: `SELECT 1`, the cheapest call there is, through the SDK (lib/db) and, for
 * comparison, as the same ExecuteStatement request over plain node:http with no SDK (unsigned:
 * the local server does not check signatures). No single-message enqueue can beat the first;
 * the gap between the two is what the SDK costs per call.
 */
import http from 'node:http';
import { LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { ratePerSecond } from '../lib/stats.js';

export interface FloorResult {
  messages: number;
  ms: number;
  /** Calls per second. */
  perSecond: number;
  calls: number;
}

async function run(count: number, inFlight: number, call: () => Promise<void>): Promise<{ ms: number }> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await call();
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  return { ms: performance.now() - started };
}

export async function dataApiFloor(db: Db, count: number, inFlight: number): Promise<FloorResult> {
  const callsBefore = db.stats.calls;
  const { ms } = await run(count, inFlight, async () => {
    await db.query('SELECT 1 AS one', {}, { idempotent: true });
  });
  return { messages: count, ms, perSecond: ratePerSecond(count, ms), calls: db.stats.calls - callsBefore };
}

/** The same call over node:http, one kept-alive agent: what HTTP, the server and MariaDB cost. */
export async function plainHttpFloor(endpoint: string, database: string, count: number, inFlight: number): Promise<FloorResult> {
  const url = new URL(endpoint);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const body = JSON.stringify({ resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database, sql: 'SELECT 1 AS one', includeResultMetadata: true });
  const call = () =>
    new Promise<void>((resolve, reject) => {
      const request = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: '/Execute',
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            if (response.statusCode !== 200) reject(new Error(`Execute answered ${response.statusCode}: ${Buffer.concat(chunks).toString()}`));
            else {
              JSON.parse(Buffer.concat(chunks).toString('utf8'));
              resolve();
            }
          });
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  try {
    const { ms } = await run(count, inFlight, call);
    return { messages: count, ms, perSecond: ratePerSecond(count, ms), calls: count };
  } finally {
    agent.destroy();
  }
}
