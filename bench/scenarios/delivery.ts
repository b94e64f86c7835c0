/**
 * Delivery: `webhook` messages drained (lib/drain) to a receiver that answers 204 at once, in its
 * own process (lib/receiverProcess.ts), next to the physical limit measured in the same
 * repetition: the same requests in a bare loop over plain Node HTTP clients, the best of which is
 * the baseline. Two more runs split the product's time: sendJson alone in the loop (the HTTP
 * client, no queue), and the drain with a transport that answers 204 without any I/O (the queue
 * and the job type, no HTTP).
 */
import http from 'node:http';
import type mysql from 'mysql2/promise';
import { Agent, Pool } from 'undici';
import { createApp } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import type { Db } from '../../lib/db/types.js';
import { drain } from '../../lib/drain/drain.js';
import { sendJson, undiciTransport, type HttpTransport } from '../../lib/jobs/http.js';
import { webhook } from '../../lib/jobs/webhook.js';
import { WEBHOOK_SIGNATURE_HEADER, signWebhook } from '../../lib/jobs/webhookSignature.js';
import { cpuMeter } from '../lib/cpu.js';
import { resetQueueTables } from '../lib/database.js';
import type { Receiver } from '../lib/receiverProcess.js';
import { formatNumber, type Row } from '../lib/report.js';
import { seedDueMessages } from '../lib/seed.js';
import { figure, ratePerSecond } from '../lib/stats.js';

export interface DeliveryResult {
  messages: number;
  ms: number;
  perSecond: number;
  /** CPU of this process (the client) per message, user + system. */
  clientCpuUs: number;
}

export interface DeliveryRepetition {
  /** By client name (PLAIN_CLIENTS). */
  plain: Record<string, DeliveryResult>;
  sendJson: DeliveryResult;
  drain: DeliveryResult;
  drainNoNetwork: DeliveryResult;
}

export const DELIVERY_QUEUE = 'bench-webhooks';

/** A typical webhook body. */
function webhookBody(n: number): unknown {
  return { event: 'order.paid', orderId: n, amountCents: 1_999, currency: 'USD', paidAt: '2026-01-01T00:00:00.000Z' };
}

/** What the webhook type sends (lib/jobs/webhook.ts), so that the plain loops carry the same bytes. */
function webhookRequest(n: number): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(webhookBody(n));
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'user-agent': 'aurora-queue-webhook/1',
      [WEBHOOK_SIGNATURE_HEADER]: signWebhook('x', Math.floor(Date.now() / 1_000), body),
      'x-aurora-queue-message-id': '0190a000-0000-7000-8000-0000000000aa',
      'x-aurora-queue-attempt': '1',
    },
  };
}

interface PlainClient {
  /** Sends one POST and answers the status once the body is consumed. */
  send(url: URL, request: { headers: Record<string, string>; body: string }): Promise<number>;
  close(): Promise<void>;
}

/** Plain Node HTTP clients, each keeping connections alive, at most `inFlight` of them where it can be told. */
const PLAIN_CLIENTS: Record<string, (origin: string, inFlight: number) => PlainClient> = {
  fetch: () => ({
    async send(url, { headers, body }) {
      const response = await fetch(url, { method: 'POST', headers, body, redirect: 'manual' });
      await response.body?.cancel();
      return response.status;
    },
    close: async () => {},
  }),
  'undici Pool': (origin, inFlight) => {
    const pool = new Pool(origin, { connections: inFlight });
    return {
      async send(url, { headers, body }) {
        const response = await pool.request({ path: url.pathname, method: 'POST', headers, body });
        await response.body.dump();
        return response.statusCode;
      },
      close: () => pool.close(),
    };
  },
  'undici Agent': (_origin, inFlight) => {
    const agent = new Agent({ connections: inFlight });
    return {
      async send(url, { headers, body }) {
        const response = await agent.request({ origin: url.origin, path: url.pathname, method: 'POST', headers, body });
        await response.body.dump();
        return response.statusCode;
      },
      close: () => agent.close(),
    };
  },
  'node:http': (_origin, inFlight) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: inFlight });
    return {
      send: (url, { headers, body }) =>
        new Promise<number>((resolve, reject) => {
          const request = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (response) => {
            response.resume();
            response.once('end', () => resolve(response.statusCode ?? 0));
            response.once('error', reject);
          });
          request.once('error', reject);
          request.end(body);
        }),
      close: async () => agent.destroy(),
    };
  },
};

export const PLAIN_CLIENT_NAMES = Object.keys(PLAIN_CLIENTS);

async function timed(count: number, work: () => Promise<void>): Promise<DeliveryResult> {
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await work();
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { messages: count, ms, perSecond: ratePerSecond(count, ms), clientCpuUs: (cpu.user + cpu.system) / count };
}

/** `count` calls, `inFlight` at once; warmed up first with a few rounds (sockets opened, code paths loaded). */
async function loop(count: number, inFlight: number, call: (n: number) => Promise<void>): Promise<DeliveryResult> {
  const run = async (total: number) => {
    let next = 0;
    const worker = async () => {
      while (next < total) await call(next++);
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
  };
  await run(4 * inFlight);
  return timed(count, () => run(count));
}

const REQUESTS = Array.from({ length: 100 }, (_, n) => webhookRequest(n));

/** Webhook-shaped POSTs to the receiver over one plain client, `inFlight` at once. */
async function plainClientLoop(client: string, receiver: Receiver, count: number, inFlight: number): Promise<DeliveryResult> {
  const url = new URL('/hook', receiver.url);
  const plain = PLAIN_CLIENTS[client]!(url.origin, inFlight);
  try {
    return await loop(count, inFlight, async (n) => {
      const status = await plain.send(url, REQUESTS[n % REQUESTS.length]!);
      if (status !== 204) throw new Error(`${client}: receiver answered ${status}`);
    });
  } finally {
    await plain.close();
  }
}

/** The product's HTTP client alone: sendJson (lib/jobs/http.ts) with its default transport in the same loop. */
async function sendJsonLoop(receiver: Receiver, count: number, inFlight: number): Promise<DeliveryResult> {
  const url = `${receiver.url}/hook`;
  const transport = undiciTransport();
  return loop(count, inFlight, async (n) => {
    const { headers, body } = REQUESTS[n % REQUESTS.length]!;
    // A signal per request, as the drain gives every handler its own.
    await sendJson({ transport, url, method: 'POST', headers, body, signal: new AbortController().signal, target: 'receiver' });
  });
}

/** Answers 204 without any I/O: the drain with it costs what the queue and the job type cost. */
export const noNetwork: HttpTransport = async () => ({ status: 204, headers: {}, body: (async function* () {})(), discard: async () => {} });

/**
 * One drain run over `count` due `webhook` messages to the receiver, the queue's concurrency
 * `inFlight`, everything else the product's defaults; checks that every message is done and
 * (over the network) that the receiver answered each once.
 */
export async function webhookDrain(options: {
  db: Db;
  pool: mysql.Pool;
  receiver: Receiver;
  count: number;
  inFlight: number;
  transport?: HttpTransport;
  /** Other processes whose CPU per message over the drain alone goes in `otherCpuUs` (bench/profile.ts). */
  otherPids?: Record<string, number | undefined>;
}): Promise<DeliveryResult & { otherCpuUs?: Record<string, number> }> {
  const { db, pool, receiver, count, inFlight } = options;
  const type = webhook({ allowedHosts: '127.0.0.1', signingSecret: 'x', env: {}, transport: options.transport });
  const config = defineConfig({ queues: [{ name: DELIVERY_QUEUE, drainConcurrency: inFlight }], jobTypes: [type] });
  const app = createApp({ db, env: {}, config, clock: systemClock });
  const url = `${receiver.url}/hook`;
  await resetQueueTables(pool);
  await seedDueMessages(pool, DELIVERY_QUEUE, count, { type: 'webhook', payload: (n) => ({ url, body: webhookBody(n) }) });
  const answeredBefore = await receiver.count();

  const meter = options.otherPids === undefined ? undefined : cpuMeter(options.otherPids);
  const result = await timed(count, async () => {
    const summary = await drain(app, { queue: DELIVERY_QUEUE, remainingTimeMs: () => 900_000 });
    if (summary.errors.length > 0) throw new Error(`drain reported errors: ${summary.errors.join('; ')}`);
  });
  const otherCpuUs = meter && Object.fromEntries(Object.entries(meter.stop()).map(([name, ms]) => [name, (ms * 1_000) / count]));

  const [[row]] = (await pool.query(`SELECT COUNT(*) AS done FROM queue_messages WHERE queue = :queue AND status = 'done'`, {
    queue: DELIVERY_QUEUE,
  })) as unknown as [[{ done: number }]];
  const answered = (await receiver.count()) - answeredBefore;
  const expectedAnswers = options.transport === noNetwork ? 0 : count;
  if (Number(row.done) !== count || answered !== expectedAnswers) {
    throw new Error(`webhook drain: ${row.done} of ${count} done, receiver answered ${answered} (expected ${expectedAnswers})`);
  }
  return otherCpuUs === undefined ? result : { ...result, otherCpuUs };
}

/** One repetition: every plain client, sendJson alone, the drain, the drain with no network. */
export async function measureDelivery(options: {
  newDb: () => Db;
  pool: mysql.Pool;
  receiver: Receiver;
  count: number;
  inFlight: number;
}): Promise<DeliveryRepetition> {
  const { receiver, count, inFlight } = options;
  const plain: Record<string, DeliveryResult> = {};
  for (const client of PLAIN_CLIENT_NAMES) plain[client] = await plainClientLoop(client, receiver, count, inFlight);
  const sendJson = await sendJsonLoop(receiver, count, inFlight);
  const drainRun = await webhookDrain({ ...options, db: options.newDb() });
  const drainNoNetwork = await webhookDrain({ ...options, db: options.newDb(), transport: noNetwork });
  return { plain, sendJson, drain: drainRun, drainNoNetwork };
}

/** The best plain client of a repetition: the baseline. */
function bestPlain(rep: DeliveryRepetition): { client: string; perSecond: number } {
  const [client, result] = Object.entries(rep.plain).reduce((best, entry) => (entry[1].perSecond > best[1].perSecond ? entry : best));
  return { client, perSecond: result.perSecond };
}

/** The section's table rows; ratios are per repetition, against that repetition's best plain client. */
export function deliveryRows(repetitions: readonly DeliveryRepetition[], inFlight: number, count: number): Row[] {
  if (repetitions.length === 0) return [];
  const cpu = (pick: (rep: DeliveryRepetition) => DeliveryResult) =>
    `client CPU ${formatNumber(figure(repetitions.map((rep) => pick(rep).clientCpuUs)).median)} µs/msg`;
  const ratio = (pick: (rep: DeliveryRepetition) => DeliveryResult) => ({
    to: 'best plain',
    figure: figure(repetitions.map((rep) => pick(rep).perSecond / bestPlain(rep).perSecond)),
  });
  const rows: Row[] = PLAIN_CLIENT_NAMES.map((client) => ({
    id: `plain ${client}`,
    what: `${count} webhook-shaped POSTs to a local 204 receiver (own process), ${inFlight} in flight, kept-alive`,
    unit: 'req/s',
    figure: figure(repetitions.map((rep) => rep.plain[client]!.perSecond)),
    note: cpu((rep) => rep.plain[client]!),
  }));
  const winners = repetitions.map((rep) => bestPlain(rep).client);
  rows.push({
    id: 'best plain',
    what: 'the best plain client of each repetition (the baseline)',
    unit: 'req/s',
    figure: figure(repetitions.map((rep) => bestPlain(rep).perSecond)),
    note: winners.join(' / '),
  });
  rows.push({
    id: 'sendJson',
    what: `lib/jobs/http.ts sendJson (undiciTransport) in the same loop: the product's HTTP client, no queue`,
    unit: 'req/s',
    figure: figure(repetitions.map((rep) => rep.sendJson.perSecond)),
    ratio: ratio((rep) => rep.sendJson),
    note: cpu((rep) => rep.sendJson),
  });
  rows.push({
    id: 'webhook drain',
    what: `one drain run delivering ${count} \`webhook\` messages to the receiver, queue concurrency ${inFlight}, product defaults otherwise`,
    unit: 'msg/s',
    figure: figure(repetitions.map((rep) => rep.drain.perSecond)),
    target: { op: '>=', value: 0.8, text: '≥ 0.8 × best plain' },
    targetOnRatio: true,
    ratio: ratio((rep) => rep.drain),
    note: cpu((rep) => rep.drain),
  });
  rows.push({
    id: 'webhook drain, no network',
    what: 'the same drain with a transport that answers 204 without I/O: the queue and the job type alone',
    unit: 'msg/s',
    figure: figure(repetitions.map((rep) => rep.drainNoNetwork.perSecond)),
    ratio: ratio((rep) => rep.drainNoNetwork),
    note: cpu((rep) => rep.drainNoNetwork),
  });
  return rows;
}
