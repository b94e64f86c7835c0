/**
 * SMS bulk mode: `sms.send` messages drained to the local fake provider (dev/fakeSmsProvider.ts,
 * in this process, answering at once, no faults), once one request per message (the single
 * mode) and once through the bulk endpoint, `maxSize` texts a request (a batch type, see
 * lib/drain/batchGathering.ts), alternating within the repetition. Counts the provider requests
 * of each and the throughput ratio.
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

export interface SmsDrainResult {
  messages: number;
  ms: number;
  perSecond: number;
  /** Calls the provider received. */
  providerRequests: number;
  dataApiCalls: number;
}

export interface SmsBulkRepetition {
  single: SmsDrainResult;
  bulk: SmsDrainResult;
}

async function smsDrain(options: { db: Db; pool: mysql.Pool; count: number; inFlight: number; bulk: boolean }): Promise<SmsDrainResult> {
  const { db, pool, count, inFlight } = options;
  const provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0 });
  try {
    const common = { providerUrl: provider.url, token: undefined, env: {} };
    const type = options.bulk ? sms({ ...common, bulk: { maxSize: SMS_BULK_MAX_SIZE } }) : sms(common);
    const config = defineConfig({ queues: [{ name: SMS_QUEUE, drainConcurrency: inFlight }], jobTypes: [type] });
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
  const single = await smsDrain({ ...options, db: options.newDb(), bulk: false });
  const bulk = await smsDrain({ ...options, db: options.newDb(), bulk: true });
  return { single, bulk };
}

/** The section's rows: each mode's throughput, the bulk mode's provider requests, and its ratio to the single mode. */
export function smsBulkRows(repetitions: readonly SmsBulkRepetition[], inFlight: number, count: number): Row[] {
  if (repetitions.length === 0) return [];
  const calls = (pick: (rep: SmsBulkRepetition) => SmsDrainResult) =>
    `provider requests ${formatNumber(figure(repetitions.map((rep) => pick(rep).providerRequests)).median)}, Data API calls ${formatNumber(figure(repetitions.map((rep) => pick(rep).dataApiCalls)).median)}`;
  // The 10,000-message target of ≤ 110 requests, scaled with the count.
  const maxRequests = Math.ceil((count / SMS_BULK_MAX_SIZE) * 1.1);
  return [
    {
      id: 'sms drain, single',
      what: `one drain run sending ${count} \`sms.send\` messages, one request each, to the fake provider (in process), concurrency ${inFlight}`,
      unit: 'msg/s',
      figure: figure(repetitions.map((rep) => rep.single.perSecond)),
      note: calls((rep) => rep.single),
    },
    {
      id: 'sms drain, bulk',
      what: `the same messages through the bulk mode, maxSize ${SMS_BULK_MAX_SIZE}`,
      unit: 'msg/s',
      figure: figure(repetitions.map((rep) => rep.bulk.perSecond)),
      ratio: { to: 'single', figure: figure(repetitions.map((rep) => rep.bulk.perSecond / rep.single.perSecond)) },
      target: { op: '>=', value: 3, text: '≥ 3 × single' },
      targetOnRatio: true,
      note: calls((rep) => rep.bulk),
    },
    {
      id: 'sms bulk requests',
      what: `provider requests of the bulk drain of ${count} messages`,
      unit: 'requests',
      figure: figure(repetitions.map((rep) => rep.bulk.providerRequests)),
      target: { op: '<=', value: maxRequests, text: `≤ ${maxRequests}` },
    },
  ];
}
