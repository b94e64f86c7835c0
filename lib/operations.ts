/** What an operator does to a queue: look at it, deal with its dead letters, pause and resume it. */
import type { TopGroup } from '../schema/groups.js';
import { DEAD_LETTER_LIMITS, type MessageView } from '../schema/messages.js';
import type { App } from './app.js';
import { declaredQueue, wakeDrain } from './enqueue.js';
import { payloadOf, toMessageView } from './messages.js';
import { groupLimitsOf, hasQueueWideLimits, type QueueConfig } from './queues.js';
import { parseSlotKey } from './recurring.js';
import { readTopGroups } from './sql/groupSettings.js';
import { permitsInUse } from './sql/permits.js';
import { RESPONSE_PAGE_BYTES } from './sql/responseBytes.js';
import {
  countDeadLettersNotOfTypes,
  deadLetterIds,
  groupStats,
  listDeadLetters as readDeadLetters,
  listPausedQueues,
  markPurgedSlots,
  purgeDeadLettersById,
  queueStats,
  queueThroughput,
  redriveDeadLettersById,
  selectDeadLetters,
  setQueuePaused,
  type GroupStats,
  type QueueStats,
} from './sql/index.js';

export interface QueueStatsView extends QueueStats {
  /** Paused queues keep accepting messages; drain runs skip them. */
  paused: boolean;
  /** FIFO queues only: their live groups, those with a message in flight, those held by a retrying head. */
  groups?: Omit<GroupStats, 'queue'>;
  /**
   * Queues with queue-wide limits only, per limited kind: run permits held (handlers running
   * across every drain run, at most `concurrency`) and rate permits taken (messages started
   * within the current rate window, at most `ratePerSecond` rounded up).
   */
  permitsInUse?: { run?: number; rate?: number };
  /** Queues with per-group limits only: the groups with the most unfinished messages (README: Groups). */
  topGroups?: TopGroup[];
}

/** Groups each grouped queue's stats show. */
const STATS_TOP_GROUPS = 10;

export async function getQueueStats(app: App, queue: string): Promise<QueueStatsView> {
  declaredQueue(app, queue);
  const [stats] = await statsOf(app, [queue], true);
  return stats!;
}

/**
 * Every declared queue's stats, in declaration order: three calls however many queues, one more
 * when some are FIFO queues, one more when some have queue-wide limits, and one per queue with
 * per-group limits, all at once. `topGroups: false` leaves the per-group reads out (a caller that
 * lists the groups itself: the dashboard).
 */
export async function listQueueStats(app: App, options: { topGroups?: boolean } = {}): Promise<QueueStatsView[]> {
  return statsOf(app, [...app.queues.keys()], options.topGroups ?? true);
}

async function statsOf(app: App, queues: readonly string[], withTopGroups: boolean): Promise<QueueStatsView[]> {
  const now = app.clock.now();
  const configs = queues.map((queue) => app.queues.get(queue)!);
  const limited = configs.filter(hasQueueWideLimits);
  const grouped = withTopGroups ? configs.filter((q) => groupLimitsOf(q) !== undefined) : [];
  const [stats, paused, groups, permits, topGroups] = await Promise.all([
    queueStats(app.db, queues, now),
    listPausedQueues(app.db),
    groupStats(
      app.db,
      configs.filter((q) => q.fifo).map((q) => q.name),
    ),
    permitsInUse(app.db, { queues: limited.map((q) => q.name), now }),
    Promise.all(grouped.map((q) => readTopGroups(app.db, { queue: q.name, now, limit: STATS_TOP_GROUPS }))),
  ]);
  const topGroupsOf = new Map(
    grouped.map((q, i) => [q.name, topGroups[i]!.map(({ groupKey, unfinished, running, paused }) => ({ groupKey, unfinished, running, paused }))]),
  );
  const groupsOf = new Map(groups.map(({ queue, ...counts }) => [queue, counts]));
  const permitsOf = new Map(limited.map((q) => [q.name, limitedPermits(q, permits.get(q.name)!)]));
  return stats.map((s) => {
    const queueGroups = groupsOf.get(s.queue);
    const queuePermits = permitsOf.get(s.queue);
    const queueTopGroups = topGroupsOf.get(s.queue);
    return {
      ...s,
      paused: paused.has(s.queue),
      ...(queueGroups === undefined ? {} : { groups: queueGroups }),
      ...(queuePermits === undefined ? {} : { permitsInUse: queuePermits }),
      ...(queueTopGroups === undefined ? {} : { topGroups: queueTopGroups }),
    };
  });
}

/** The permits of the kinds the queue is limited by. */
function limitedPermits(queue: QueueConfig, taken: { run: number; rate: number }): { run?: number; rate?: number } {
  return {
    ...(queue.concurrency === undefined ? {} : { run: taken.run }),
    ...(queue.ratePerSecond === undefined ? {} : { rate: taken.rate }),
  };
}

export interface ThroughputWindow {
  /** Minute-aligned start: minute 0. */
  since: Date;
  /** Exclusive end. */
  until: Date;
  /** Read finished messages only from here on (minute-aligned); earlier minutes come back 0. */
  finishedSince?: Date;
}

/** Per minute of the window (index 0 starts at `since`): messages done, failed for a retry, dead. */
export interface QueueThroughput {
  queue: string;
  done: number[];
  retried: number[];
  dead: number[];
}

/**
 * Throughput of every declared queue per minute, read from the table itself in one call: done
 * and dead by when they finished, retried by when a message still waiting for its retry failed
 * (see lib/sql/queueThroughput.ts for what the table can and cannot tell).
 */
export async function getThroughput(app: App, window: ThroughputWindow): Promise<QueueThroughput[]> {
  const minutes = Math.max(0, Math.ceil((window.until.getTime() - window.since.getTime()) / 60_000));
  const names = [...app.queues.keys()];
  const series = new Map(names.map((queue) => [queue, { queue, done: zeros(minutes), retried: zeros(minutes), dead: zeros(minutes) }]));
  const rows = await queueThroughput(app.db, { queues: names, ...window });
  for (const row of rows) {
    const queue = series.get(row.queue);
    if (queue === undefined || row.minute < 0 || row.minute >= minutes) continue;
    queue.done[row.minute]! += row.done;
    queue.retried[row.minute]! += row.retried;
    queue.dead[row.minute]! += row.dead;
  }
  return [...series.values()];
}

const zeros = (n: number) => Array.from({ length: n }, () => 0);

export interface DeadLetterView extends MessageView {
  payload: unknown;
}

export interface DeadLetterList {
  messages: DeadLetterView[];
  /** Pass as `after` for the next page; absent on the last page. */
  next?: string;
}

/** Dead letters of a queue, oldest first, with their payloads and last errors. */
export async function listDeadLetters(app: App, queue: string, options: { limit?: number; after?: string } = {}): Promise<DeadLetterList> {
  declaredQueue(app, queue);
  const limit = Math.min(options.limit ?? DEAD_LETTER_LIMITS.defaultPage, DEAD_LETTER_LIMITS.maxPage);
  const page = await readDeadLetters(app.db, { queue, limit, afterId: options.after, maxBytes: RESPONSE_PAGE_BYTES });
  const messages = await Promise.all(page.messages.map(async (message) => ({ ...toMessageView(message), payload: await payloadOf(app, message) })));
  const last = messages.at(-1);
  return { messages, ...(page.more && last ? { next: last.id } : {}) };
}

export interface BulkResult {
  /** Dead letters changed by this call (after a lost reply, by its re-sent statement only: fewer). */
  count: number;
  /** The call stopped at its limit: call again for the rest. */
  more: boolean;
}

export interface RedriveResult extends BulkResult {
  /**
   * Dead letters left dead because the queue does not carry their job type (its `types`), or no
   * handler is registered for it any more: redriven, they would only be dead-lettered again. Among
   * the given ids; without ids, among the queue's, counted once the redrive is done (`more` false).
   */
  notCarried: number;
}

/**
 * Sends dead letters back to `waiting` with their attempts reset: the given ids, or the queue's
 * oldest first. At most `limit` per call (default and maximum 1,000), so one statement never
 * holds locks on a huge range; the queue's rate limit then spreads them over drain runs. Only
 * types the queue carries go back (RedriveResult.notCarried).
 */
export async function redrive(app: App, queue: string, options: { ids?: readonly string[]; limit?: number } = {}): Promise<RedriveResult> {
  const config = declaredQueue(app, queue);
  const types = app.jobs.carriedBy(config.types).types();
  const limit = bulkLimit(options.ids, options.limit);
  const now = app.clock.now();
  const groupedAvailableAt = new Date(now.getTime() + config.leaseSeconds * 1_000);
  // Ids first, then the change by id: a call re-sent after a lost reply redrives no more than asked.
  const ids = await deadLetterIds(app.db, { queue, ids: options.ids, limit, types });
  const count = await redriveDeadLettersById(app.db, { queue, ids, now, groupedAvailableAt, types });
  // Their drain now, not at the safety net: a FIFO queue's come due a lease from now.
  if (count > 0) await wakeDrain(app, queue, config.fifo ? groupedAvailableAt : undefined);
  const more = options.ids === undefined && ids.length === limit;
  // Every given id redriven: none was left for its type (no count needed).
  const allRedriven = options.ids !== undefined && count === options.ids.length;
  const notCarried = more || allRedriven ? 0 : await countDeadLettersNotOfTypes(app.db, { queue, ids: options.ids, types });
  return { count, more, notCarried };
}

export type PurgeSelection = { ids: readonly string[]; all?: undefined } | { all: true; ids?: undefined };

/**
 * Deletes dead letters for good: the given ids, or (with `all: true`) the queue's, at most `limit`
 * per call. Reads them first, then deletes those ids, so a call re-sent after a lost reply purges
 * no more than asked; a recurring message's slot is marked before its message goes, so no drain
 * enqueues that slot again (lib/sql/recurringPurges.ts).
 */
export async function purgeDeadLetters(app: App, queue: string, selection: PurgeSelection, options: { limit?: number } = {}): Promise<BulkResult> {
  declaredQueue(app, queue);
  const limit = bulkLimit(selection.ids, options.limit);
  const chosen = await selectDeadLetters(app.db, { queue, ids: selection.ids, limit });
  const slots = chosen.map((message) => parseSlotKey(message.slotKey)).filter((slot) => slot !== undefined);
  await markPurgedSlots(app.db, { queue, slots, now: app.clock.now() });
  const count = await purgeDeadLettersById(app.db, { queue, ids: chosen.map((message) => message.id) });
  return { count, more: selection.ids === undefined && chosen.length === limit };
}

function bulkLimit(ids: readonly string[] | undefined, limit: number | undefined): number {
  return Math.min(limit ?? ids?.length ?? DEAD_LETTER_LIMITS.defaultBulk, DEAD_LETTER_LIMITS.maxBulk);
}

/** Stops drain runs from claiming the queue's messages; enqueue goes on. */
export async function pauseQueue(app: App, queue: string): Promise<{ queue: string; paused: boolean }> {
  declaredQueue(app, queue);
  await setQueuePaused(app.db, queue, true, app.clock.now());
  return { queue, paused: true };
}

export async function resumeQueue(app: App, queue: string): Promise<{ queue: string; paused: boolean }> {
  declaredQueue(app, queue);
  await setQueuePaused(app.db, queue, false, app.clock.now());
  // Runs skipped the paused queue and set it no wake: what waited during the pause drains now.
  await wakeDrain(app, queue);
  return { queue, paused: false };
}
