/**
 * D1 and D2: drain runs (lib/drain, as the drain Lambda runs it) over due messages with a no-op
 * handler, through the SDK and the local Data API server. Each run gets its own Db and SDK client,
 * as separate Lambda invocations would.
 */
import type mysql from 'mysql2/promise';
import { drain, type DrainSummary } from '../../lib/drain/drain.js';
import type { DrainTuning } from '../../lib/drain/types.js';
import type { Db } from '../../lib/db/types.js';
import type { QueueDeclaration } from '../../lib/queues.js';
import { BENCH_QUEUE, benchApp } from '../lib/benchApp.js';
import { figure, ratePerSecond } from '../lib/stats.js';
import { timedDb } from '../lib/timedDb.js';

export interface DrainRunsResult {
  messages: number;
  ms: number;
  perSecond: number;
  /** Data API calls counted by the runs' Dbs. */
  calls: number;
  /** Dispatches beyond the first of a message, over all runs. */
  duplicates: number;
  /** Seeded messages not `done` in the final table. */
  missing: number;
  /** From the drain's start to the last message's `finished_at`. */
  lastWaitMs: number;
  /** Per kind of statement (claim, read, ack, …): calls and median milliseconds, over all runs. */
  roundTrips: Record<string, { calls: number; medianMs: number }>;
  /** Statements in flight at once in one run, time-weighted while any was (the pipelining depth). */
  meanInFlight: number;
  summaries: DrainSummary[];
}

/**
 * Runs `runs` drains at once over `queue` (seeded with `ids`), each to completion; then checks the
 * final table: every seeded id done, none dispatched twice.
 */
export async function drainRuns(options: {
  newDb: () => Db;
  pool: mysql.Pool;
  ids: readonly string[];
  runs: number;
  queue?: Partial<QueueDeclaration>;
  tuning?: Partial<DrainTuning>;
}): Promise<DrainRunsResult> {
  const dispatches = new Map<string, number>();
  const onDispatch = (id: string) => dispatches.set(id, (dispatches.get(id) ?? 0) + 1);
  const dbs = Array.from({ length: options.runs }, () => timedDb(options.newDb()));
  const apps = dbs.map((db) => benchApp(db, { queue: options.queue, onDispatch }));

  const startedAt = Date.now();
  const started = performance.now();
  // A Lambda's whole 15 minutes: the time budget never limits a claim here.
  const summaries = await Promise.all(apps.map((app) => drain(app, { queue: BENCH_QUEUE, remainingTimeMs: () => 900_000, tuning: options.tuning })));
  const ms = performance.now() - started;

  let duplicates = 0;
  for (const count of dispatches.values()) duplicates += count - 1;
  const [[row]] = (await options.pool.query(`SELECT COUNT(*) AS done, MAX(finished_at) AS last FROM queue_messages WHERE queue = :queue AND status = 'done'`, {
    queue: BENCH_QUEUE,
  })) as unknown as [[{ done: number; last: Date | null }]];
  const done = Number(row.done);
  for (const summary of summaries) {
    if (summary.errors.length > 0) throw new Error(`drain reported errors: ${summary.errors.join('; ')}`);
  }
  const roundTrips: Record<string, { calls: number; medianMs: number }> = {};
  for (const kind of new Set(dbs.flatMap((db) => Object.keys(db.times)))) {
    const times = dbs.flatMap((db) => db.times[kind] ?? []);
    roundTrips[kind] = { calls: times.length, medianMs: figure(times).median };
  }
  return {
    messages: done,
    ms,
    perSecond: ratePerSecond(done, ms),
    calls: apps.reduce((sum, app) => sum + app.db.stats.calls, 0),
    duplicates,
    missing: options.ids.length - done,
    lastWaitMs: row.last === null ? Number.NaN : row.last.getTime() - startedAt,
    roundTrips,
    meanInFlight: figure(dbs.map((db) => db.meanInFlight())).median,
    summaries,
  };
}
