/**
 * D1 and D2: drain runs (lib/drain, as the drain Lambda runs it) over due messages with a no-op
 * handler, through the SDK and the local Data API server. Each run gets its own Db and SDK client,
 * as separate Lambda invocations would.
 */
import type mysql from 'mysql2/promise';
import { drain, type DrainSummary } from '../../lib/drain/drain.js';
import type { Db } from '../../lib/db/types.js';
import type { QueueDeclaration } from '../../lib/queues.js';
import { BENCH_QUEUE, benchApp } from '../lib/benchApp.js';
import { ratePerSecond } from '../lib/stats.js';

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
}): Promise<DrainRunsResult> {
  const dispatches = new Map<string, number>();
  const onDispatch = (id: string) => dispatches.set(id, (dispatches.get(id) ?? 0) + 1);
  const apps = Array.from({ length: options.runs }, () => benchApp(options.newDb(), { queue: options.queue, onDispatch }));

  const startedAt = Date.now();
  const started = performance.now();
  const summaries = await Promise.all(apps.map((app) => drain(app, { queue: BENCH_QUEUE, remainingTimeMs: () => 600_000 })));
  const ms = performance.now() - started;

  let duplicates = 0;
  for (const count of dispatches.values()) duplicates += count - 1;
  const [[row]] = (await options.pool.query(
    `SELECT COUNT(*) AS done, MAX(finished_at) AS last FROM queue_messages WHERE queue = :queue AND status = 'done'`,
    { queue: BENCH_QUEUE },
  )) as unknown as [[{ done: number; last: Date | null }]];
  const done = Number(row.done);
  for (const summary of summaries) {
    if (summary.errors.length > 0) throw new Error(`drain reported errors: ${summary.errors.join('; ')}`);
  }
  return {
    messages: done,
    ms,
    perSecond: ratePerSecond(done, ms),
    calls: apps.reduce((sum, app) => sum + app.db.stats.calls, 0),
    duplicates,
    missing: options.ids.length - done,
    lastWaitMs: row.last === null ? Number.NaN : row.last.getTime() - startedAt,
    summaries,
  };
}
