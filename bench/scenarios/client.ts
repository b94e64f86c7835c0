/**
 * The typed client's direct transport with auto-batching: `callers` concurrent producers, each
 * awaiting one `enqueue()` after another, as services call it. Calls per message and, with latency
 * added per Data API call, each enqueue's own latency.
 */
import { createQueueClient } from '../../lib/client/index.js';
import type { Db } from '../../lib/db/types.js';
import { BENCH_QUEUE, benchApp } from '../lib/benchApp.js';
import { BENCH_TYPE, benchPayload } from '../lib/seed.js';
import { figure, ratePerSecond, type Figure } from '../lib/stats.js';

export interface ClientResult {
  messages: number;
  perSecond: number;
  callsPerMessage: number;
  /** Each enqueue(): called → answered, ms. */
  latency: Figure;
}

export async function clientEnqueues(options: { db: Db; count: number; callers: number; lingerMs: number; perCaller?: number }): Promise<ClientResult> {
  const config = benchApp(options.db).config;
  const client = createQueueClient({ transport: 'direct', config, database: options.db, lingerMs: options.lingerMs, env: {} });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  // `perCaller` > 1: each caller keeps that many enqueues outstanding (a service handling many requests).
  await Promise.all(
    Array.from({ length: options.callers * (options.perCaller ?? 1) }, async () => {
      while (next < options.count) {
        const n = next++;
        const t = performance.now();
        await client.enqueue(BENCH_TYPE as never, benchPayload(n) as never, { queue: BENCH_QUEUE });
        latencies.push(performance.now() - t);
      }
    }),
  );
  const ms = performance.now() - started;
  await client.close();
  return {
    messages: options.count,
    perSecond: ratePerSecond(options.count, ms),
    callsPerMessage: options.db.stats.calls / options.count,
    latency: figure(latencies),
  };
}
