/**
 * What an operator does to one group of a queue with per-group limits (README: Groups): list the
 * groups with the most backlog and those paused or with limits of their own, set a group's own
 * concurrency or rate, pause and resume it. Every drain's next claim sees a change.
 */
import {
  GROUP_LIST_DEFAULT,
  GROUP_LIST_LIMIT,
  groupLimitsBody,
  groupListLimit,
  type GroupLimitsChange,
  type GroupList,
  type GroupView,
} from '../schema/groups.js';
import { groupKey as groupKeyRule } from '../schema/messages.js';
import type { App } from './app.js';
import { declaredQueue, wakeDrain } from './enqueue.js';
import { ValidationError } from './errors.js';
import { groupLimitsOf, type GroupLimits, type QueueConfig } from './queues.js';
import { readGroup, readSetGroups, readTopGroups, setGroupSettings, type GroupRow } from './sql/groupSettings.js';
import { issuesFromZod } from './validation.js';

/** A queue declared with `groups`. */
type GroupedQueue = QueueConfig & { groups: GroupLimits };

/** A queue's declared per-group limits as the API and the dashboard show them (null: not a grouped queue). */
export function declaredGroupLimits(queue: QueueConfig): GroupList['declared'] | null {
  const groups = groupLimitsOf(queue);
  return groups === undefined ? null : { concurrency: groups.concurrency ?? null, ratePerSecond: groups.ratePerSecond ?? null, fair: groups.fair === true };
}

/** A declared queue with per-group limits, or a 4xx naming the rule. */
export function groupedQueue(app: Pick<App, 'queues'>, queue: string): GroupedQueue {
  const config = declaredQueue(app, queue);
  const groups = groupLimitsOf(config);
  if (groups === undefined) {
    throw new ValidationError([
      {
        field: 'queue',
        rule: 'not_grouped',
        message: `queue "${queue}" has no per-group limits; declare it with groups: { concurrency, ratePerSecond, fair } in queue.config.ts`,
      },
    ]);
  }
  return { ...config, groups };
}

/** A group key by the rules a message's key follows, or a 400 naming `groupKey` and the rule. */
function checkGroupKey(groupKey: string): void {
  const parsed = groupKeyRule.safeParse(groupKey);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error, ['groupKey']));
}

/** A group of a declared grouped queue, with a key the rules allow: its queue's config, or a 4xx naming the rule. */
export function checkedGroup(app: Pick<App, 'queues'>, queue: string, groupKey: string): GroupedQueue {
  const config = groupedQueue(app, queue);
  checkGroupKey(groupKey);
  return config;
}

/** A change of a group's limits by the API's rules (schema/groups.ts), or a 400 naming the field. */
export function checkGroupLimitsChange(change: GroupLimitsChange): GroupLimitsChange {
  const parsed = groupLimitsBody.safeParse(change);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error));
  return parsed.data;
}

/** A group list's `limit` by the API's rule (a whole number from 1 to GROUP_LIST_LIMIT), or a 400 naming it. */
export function checkGroupListLimit(limit: number | undefined): number {
  if (limit === undefined) return GROUP_LIST_DEFAULT;
  const parsed = groupListLimit.safeParse(limit);
  if (!parsed.success) throw new ValidationError(issuesFromZod(parsed.error, ['limit']));
  return parsed.data;
}

function view(queue: GroupedQueue, row: GroupRow): GroupView {
  const concurrency = row.concurrency ?? queue.groups.concurrency ?? null;
  const ratePerSecond = row.ratePerSecond ?? queue.groups.ratePerSecond ?? null;
  const state = row.paused
    ? 'paused'
    : concurrency !== null && row.running >= concurrency && row.unfinished > row.running
      ? 'blocked'
      : row.running > 0
        ? 'running'
        : 'idle';
  return {
    groupKey: row.groupKey,
    unfinished: row.unfinished,
    running: row.running,
    paused: row.paused,
    concurrency,
    ratePerSecond,
    overridden: { concurrency: row.concurrency !== null, ratePerSecond: row.ratePerSecond !== null },
    state,
  };
}

/** The groups with the most backlog, and those paused or with limits of their own (two calls). */
export async function listGroups(app: App, queue: string, options: { limit?: number } = {}): Promise<GroupList> {
  // The limit first, as the API checks its query before the queue.
  const limit = checkGroupListLimit(options.limit);
  const config = groupedQueue(app, queue);
  const now = app.clock.now();
  const [top, set] = await Promise.all([readTopGroups(app.db, { queue, now, limit }), readSetGroups(app.db, { queue, now, limit: GROUP_LIST_LIMIT })]);
  return {
    queue,
    declared: declaredGroupLimits(config)!,
    top: top.map((row) => view(config, row)),
    set: set.map((row) => view(config, row)),
  };
}

/** One group as it is now (after a change). */
async function groupView(app: App, config: GroupedQueue, groupKey: string): Promise<GroupView> {
  return view(config, await readGroup(app.db, { queue: config.name, groupKey, now: app.clock.now() }));
}

/** Sets a group's own concurrency and/or rate (null: back to the queue's). */
export async function setGroupLimits(app: App, queue: string, groupKey: string, change: GroupLimitsChange): Promise<GroupView> {
  const config = checkedGroup(app, queue, groupKey);
  await setGroupSettings(app.db, { queue, groupKey, ...checkGroupLimitsChange(change), now: app.clock.now() });
  // A limit raised may let waiting messages start now.
  await wakeDrain(app, queue);
  return groupView(app, config, groupKey);
}

/** Stops drains from starting the group's messages; running ones finish, enqueue goes on. */
export async function pauseGroup(app: App, queue: string, groupKey: string): Promise<GroupView> {
  const config = checkedGroup(app, queue, groupKey);
  await setGroupSettings(app.db, { queue, groupKey, paused: true, now: app.clock.now() });
  return groupView(app, config, groupKey);
}

export async function resumeGroup(app: App, queue: string, groupKey: string): Promise<GroupView> {
  const config = checkedGroup(app, queue, groupKey);
  await setGroupSettings(app.db, { queue, groupKey, paused: false, now: app.clock.now() });
  await wakeDrain(app, queue);
  return groupView(app, config, groupKey);
}
