/**
 * What the per-group operations take and answer (lib/groups.ts; README: Groups): the one source of
 * their rules for the lib, the HTTP handler, the clients, the CLI and the dashboard, and of the
 * OpenAPI document's description of them.
 */
import * as z from 'zod';
import { ENQUEUE_LIMITS, groupKey, intFromText, intInRange } from './messages.js';

/** A group's rate is rows per group (one permit per start a second): bounded, as the queue-wide one. */
export const MAX_GROUP_RATE = 1_000;

/** A group's concurrency, bounded as a queue-wide one (beyond it a group is as good as unlimited). */
export const MAX_GROUP_CONCURRENCY = 10_000;

/** Groups listed at most, per list. */
export const GROUP_LIST_LIMIT = 100;

/** Groups a list shows when not told how many. */
export const GROUP_LIST_DEFAULT = 20;

/** A group's own limits: a number sets it, null goes back to the queue's, absent leaves it. */
export const groupLimitsChange = z.strictObject({
  concurrency: z
    .number()
    .int('must be a whole number of at least 1')
    .min(1, 'must be a whole number of at least 1')
    .max(MAX_GROUP_CONCURRENCY, `must be at most ${MAX_GROUP_CONCURRENCY}`)
    .nullable()
    .optional(),
  ratePerSecond: z.number().positive('must be a positive number').max(MAX_GROUP_RATE, `must be at most ${MAX_GROUP_RATE}`).nullable().optional(),
});

export type GroupLimitsChange = z.infer<typeof groupLimitsChange>;

/** PUT /queues/{queue}/groups/{groupKey}/limits: a change that changes something. */
export const groupLimitsBody = groupLimitsChange
  .meta({
    description: "A number sets the group's own limit, null gives it the queue's back, absent leaves it as it is; give at least one",
    minProperties: 1,
  })
  .refine((change) => change.concurrency !== undefined || change.ratePerSecond !== undefined, {
    message: 'give concurrency or ratePerSecond (a number, or null for the queue’s own)',
    params: { rule: 'required' },
  });

/** /queues/{queue}/groups/{groupKey}/…: API Gateway hands the key over decoded from the path. */
export const groupParams = z.object({
  queue: z.string(),
  // JSON Schema counts a string's length in characters, as the rule does.
  groupKey: groupKey.meta({
    description: 'the group, percent-encoded in the path (a "/" as %2F); 1-128 characters, not ending in a space',
    minLength: 1,
    maxLength: ENQUEUE_LIMITS.maxGroupKeyChars,
  }),
});

/** How many of the groups with the most backlog a list shows, as a number (in-process callers). */
export const groupListLimit = intInRange(1, GROUP_LIST_LIMIT);

/** GET /queues/{queue}/groups. Query strings reach this schema as `{}` when there is none. */
export const groupListQuery = z.strictObject({
  limit: intFromText(1, GROUP_LIST_LIMIT).optional().describe(`groups with the most backlog to list (default ${GROUP_LIST_DEFAULT})`),
});

export const GROUP_STATES = ['paused', 'blocked', 'running', 'idle'] as const;

/** A group's limits as they apply (its own, else the queue's), and what holds it: what lib/groups.ts answers. */
export const groupView = z.strictObject({
  groupKey: z.string(),
  unfinished: z.number().int().describe('messages not finished: waiting, delayed, retrying or running'),
  running: z.number().int().describe('messages in flight (under a live lease)'),
  paused: z.boolean(),
  concurrency: z.number().int().nullable().describe("the concurrency that applies: the group's own, else the queue's; null: none"),
  ratePerSecond: z.number().nullable().describe("the starts per second that apply: the group's own, else the queue's; null: none"),
  overridden: z.strictObject({ concurrency: z.boolean(), ratePerSecond: z.boolean() }).describe("which limits are the group's own"),
  state: z.enum(GROUP_STATES).describe('paused; blocked: at its concurrency while more of it waits; otherwise running or idle'),
});

/** A queue's groups as lib/groups.ts lists them. */
export const groupList = z.strictObject({
  queue: z.string(),
  declared: z
    .strictObject({ concurrency: z.number().int().nullable(), ratePerSecond: z.number().nullable(), fair: z.boolean() })
    .describe("the queue's per-group limits, as queue.config.ts declares them"),
  top: z.array(groupView).describe('the groups with the most unfinished messages, most first'),
  set: z.array(groupView).describe(`the groups paused or with limits of their own, by key (at most ${GROUP_LIST_LIMIT})`),
});

/** One of a queue's busiest groups, as its stats show them (GET /queues/{queue}/stats). */
export const topGroup = groupView.pick({ groupKey: true, unfinished: true, running: true, paused: true });

export type GroupView = z.output<typeof groupView>;
export type TopGroup = z.output<typeof topGroup>;
export type GroupList = z.output<typeof groupList>;
