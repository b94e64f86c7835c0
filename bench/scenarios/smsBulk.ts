/**
 * SMS bulk mode: `sms.send` messages drained to the local fake provider (dev/fakeSmsProvider.ts,
 * in this process, no faults), once one request per message (the single mode) and once through
 * the bulk endpoint, `maxSize` texts a request (a batch type, see lib/drain/batchGathering.ts),
 * one after the other within the repetition; twice: a provider answering at once (every process
 * shares the cores, so this measures CPU per message: the single mode's HTTP against the queue's
 * own work) and one taking PROVIDER_LATENCY_MS per request, as an API across the internet does.
 * Counts the provider requests of each and the throughput ratios.
 */
import type mysql from 'mysql2/promise';
import { startFakeSmsProvider } from '../../dev/fakeSmsProvider.js';
import { createApp } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import type { Db } from '../../lib/db/types.js';
import { drain } from '../../lib/drain/drain.js';
import { sms } from '../../lib/jobs/sms.js';
import { resetQueueTables } from '../lib/database.js';
import { formatNumber, type Row } from '../lib/report.js';
import { seedDueMessages } from '../lib/seed.js';
import { figure, ratePerSecond } from '../lib/stats.js';

export const SMS_QUEUE = 'bench-sms';
export const SMS_BULK_MAX_SIZE = 100;
/** The slower provider's time per answer. */
export const PROVIDER_LATENCY_MS = 50;

export interface SmsDrainResult {
  messages: number;
  ms: number;
  perSecond: number;
  /** Calls the provider received. */
  providerRequests: number;
  dataApiCalls: number;
}

export interface SmsBulkRepetition {
  /** Against a provider answering at once. */
  single: SmsDrainResult;
  bulk: SmsDrainResult;
  /** Against a provider taking PROVIDER_LATENCY_MS per answer. */
  singleSlow: SmsDrainResult;
  bulkSlow: SmsDrainResult;
}

async function smsDrain(options: { db: Db; pool: mysql.Pool; count: number; inFlight: number; bulk: boolean; latencyMs: number }): Promise<SmsDrainResult> {
  const { db, pool, count, inFlight } = options;
  const provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, latencyMs: options.latencyMs });
  try {
    const common = { providerUrl: provider.url, token: undefined, env: {} };
    const type = options.bulk ? sms({ ...common, bulk: { maxSize: SMS_BULK_MAX_SIZE } }) : sms(common);
    const config = defineConfig({ queues: [{ name: SMS_QUEUE, drainConcurrency: inFlight, batchSize: 500 }], jobTypes: [type] });
    const app = createApp({ db, env: {}, config, clock: systemClock });
    await resetQueueTables(pool);
    await seedDueMessages(pool, SMS_QUEUE, count, {
      type: 'sms.send',
      payload: (n) => ({ to: `+1555${String(1_000_000 + n).padStart(7, '0')}`, body: 'Your code is 123456. It expires in 10 minutes.' }),
    });
    const started = performance.now();
    const summary = await drain(app, { queue: SMS_QUEUE, remainingTimeMs: () => 900_000 });
    const ms = performance.now() - started;
    if (summary.errors.length > 0) throw new Error(`sms drain reported errors: ${summary.errors.join('; ')}`);
    const stats = provider.stats();
    if (summary.done !== count || stats.accepted !== count) {
      throw new Error(`sms drain (${options.bulk ? 'bulk' : 'single'}): ${summary.done} of ${count} done, provider accepted ${stats.accepted}`);
    }
    return { messages: count, ms, perSecond: ratePerSecond(count, ms), providerRequests: stats.received, dataApiCalls: summary.dataApiCalls };
  } finally {
    await provider.close();
  }
}

/** One repetition: the single-message drain, then the bulk one, over the same messages. */
export async function measureSmsBulk(options: { newDb: () => Db; pool: mysql.Pool; count: number; inFlight: number }): Promise<SmsBulkRepetition> {
  const run = (bulk: boolean, latencyMs: number) => smsDrain({ ...options, db: options.newDb(), bulk, latencyMs });
  const single = await run(false, 0);
  const bulk = await run(true, 0);
  const singleSlow = await run(false, PROVIDER_LATENCY_MS);
  const bulkSlow = await run(true, PROVIDER_LATENCY_MS);
  return { single, bulk, singleSlow, bulkSlow };
}

/** The section's rows: each mode's throughput against each provider, the bulk mode's provider requests, and its ratios to the single mode. */
export function smsBulkRows(repetitions: readonly SmsBulkRepetition[], inFlight: number, count: number): Row[] {
  if (repetitions.length === 0) return [];
  type Pick = (rep: SmsBulkRepetition) => SmsDrainResult;
  const calls = (pick: Pick) =>
    `provider requests ${formatNumber(figure(repetitions.map((rep) => pick(rep).providerRequests)).median)}, Data API calls ${formatNumber(figure(repetitions.map((rep) => pick(rep).dataApiCalls)).median)}`;
  // The 10,000-message target of ≤ 110 requests, scaled with the count.
  const maxRequests = Math.ceil((count / SMS_BULK_MAX_SIZE) * 1.1);
  const pair = (label: string, single: Pick, bulk: Pick): Row[] => [
    {
      id: `sms single, ${label}`,
      what: `one drain run sending ${count} \`sms.send\` messages, one request each, to the fake provider (in process, ${label}), concurrency ${inFlight}, queue batch 500`,
      unit: 'msg/s',
      figure: figure(repetitions.map((rep) => single(rep).perSecond)),
      note: calls(single),
    },
    {
      id: `sms bulk, ${label}`,
      what: `the same messages through the bulk mode, maxSize ${SMS_BULK_MAX_SIZE}`,
      unit: 'msg/s',
      figure: figure(repetitions.map((rep) => bulk(rep).perSecond)),
      ratio: { to: 'single', figure: figure(repetitions.map((rep) => bulk(rep).perSecond / single(rep).perSecond)) },
      target: { op: '>=', value: 3, text: '≥ 3 × single' },
      targetOnRatio: true,
      note: calls(bulk),
    },
  ];
  return [
    ...pair(
      'answering at once',
      (rep) => rep.single,
      (rep) => rep.bulk,
    ),
    ...pair(
      `${PROVIDER_LATENCY_MS} ms per answer`,
      (rep) => rep.singleSlow,
      (rep) => rep.bulkSlow,
    ),
    {
      id: 'sms bulk requests',
      what: `provider requests of the bulk drain of ${count} messages`,
      unit: 'requests',
      figure: figure(repetitions.map((rep) => rep.bulk.providerRequests)),
      target: { op: '<=', value: maxRequests, text: `≤ ${maxRequests}` },
    },
  ];
}
