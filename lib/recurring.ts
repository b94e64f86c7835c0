/**
 * Recurring messages: entries of queue.config.ts that enqueue a message on a rate or cron
 * schedule (lib/schedule.ts). Every drain run enqueues the slots that are due; a slot's message
 * carries the dedup key `recurring:<name>:<slot>`, so the queue's unique (queue, dedup_key) makes
 * it exactly once however many drains run at once. Only a purged slot needs a record of its own
 * (queue_recurring_purges: one row per entry, its newest purged slot).
 */
import * as z from 'zod';
import { ENQUEUE_LIMITS } from '../schema/messages.js';
import type { JobRegistry } from './jobs/JobRegistry.js';
import type { AnyJobType, PayloadInput } from './jobs/types.js';
import type { QueueConfig } from './queues.js';
import { isTimeZone, nextSlotAfter, parseSchedule, ScheduleError, slotsAtOrBefore, type Schedule } from './schedule.js';
import { issuesFromZod } from './validation.js';
import { configProblems } from './validation.js';

/** One entry of `recurring: [...]` in queue.config.ts. */
export interface RecurringDeclaration<T extends string = string, P = unknown> {
  /** Unique; part of each message's dedup key, so a renamed entry starts its slots afresh. */
  readonly name: string;
  /** `rate(5 minutes)` or `cron(0 9 * * ? *)`, EventBridge's syntax (lib/schedule.ts). */
  readonly schedule: string;
  /** A declared queue. */
  readonly queue: string;
  /** A registered job type; `payload` is checked against its schema when the config loads. */
  readonly type: T;
  readonly payload: P;
  /** An IANA zone (`Europe/Paris`) a cron's fields are read in; UTC when omitted. Not for rates. */
  readonly timezone?: string;
  /**
   * How many of the latest due slots a run enqueues when earlier ones were missed (an outage):
   * 1 (the default) enqueues only the latest.
   */
  readonly catchUp?: number;
}

/** An entry whose `type` is one of the config's job types and whose payload is that type's. */
export type RecurringEntry<J extends AnyJobType = AnyJobType> = J extends AnyJobType ? RecurringDeclaration<J['type'], PayloadInput<J>> : never;

/** A declaration with its schedule parsed. */
export interface RecurringPlan extends RecurringDeclaration {
  readonly parsed: Schedule;
}

export const MAX_CATCH_UP = 100;

/**
 * A recurring payload goes into its message's row with the slot's insert: half of what a row
 * holds inline (27 KiB), since MySQL's re-serialization adds a space after every `,` and `:`.
 */
export const MAX_RECURRING_PAYLOAD_BYTES = ENQUEUE_LIMITS.maxInlinePayloadBytes / 2;

const ENTRY_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

const declaration = z.strictObject({
  name: z.string().regex(ENTRY_NAME, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -'),
  schedule: z.string(),
  queue: z.string(),
  type: z.string(),
  payload: z.unknown(),
  timezone: z.string().optional(),
  catchUp: z
    .number()
    .int(`must be a whole number from 1 to ${MAX_CATCH_UP}`)
    .min(1, `must be a whole number from 1 to ${MAX_CATCH_UP}`)
    .max(MAX_CATCH_UP, `must be a whole number from 1 to ${MAX_CATCH_UP}`)
    .optional(),
});

/**
 * What is wrong with the entries, each naming the entry and the rule: a bad or repeated name, an
 * expression that does not parse, an undeclared queue, an unknown type, a payload its type's
 * schema refuses, an unknown time zone. `jobs` is undefined when the types themselves are broken.
 */
export function recurringProblems(
  entries: readonly RecurringDeclaration[],
  /** The declared queues by name, with the types each carries (undefined: any). */
  context: { queues: ReadonlyMap<string, readonly string[] | undefined>; jobs: JobRegistry | undefined },
): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const label = typeof entry?.name === 'string' && entry.name !== '' ? `recurring "${entry.name}"` : `recurring[${index}]`;
    const parsed = declaration.safeParse(entry);
    if (!parsed.success) {
      problems.push(...configProblems(label, parsed.error));
      continue;
    }
    if (seen.has(entry.name)) problems.push(`${label}: declared twice`);
    seen.add(entry.name);

    let schedule: Schedule | undefined;
    try {
      schedule = parseSchedule(entry.schedule);
    } catch (error) {
      if (!(error instanceof ScheduleError)) throw error;
      problems.push(`${label}: schedule "${entry.schedule}": ${error.message}`);
    }
    if (entry.timezone !== undefined) {
      if (!isTimeZone(entry.timezone))
        problems.push(`${label}: timezone "${entry.timezone}" is not an IANA time zone (e.g. Europe/Paris, America/New_York, UTC)`);
      else if (schedule?.kind === 'rate')
        problems.push(`${label}: timezone applies to cron expressions only: a rate counts from 1970-01-01T00:00Z whatever the zone`);
    }
    if (!context.queues.has(entry.queue))
      problems.push(`${label}: queue "${entry.queue}" is not declared (declared: ${[...context.queues.keys()].join(', ')})`);
    const carried = context.queues.get(entry.queue);
    if (carried !== undefined && !carried.includes(entry.type))
      problems.push(`${label}: type "${entry.type}" is not one queue "${entry.queue}" carries (its types: ${carried.join(', ')})`);
    if (context.jobs !== undefined) problems.push(...payloadProblems(label, entry, context.jobs));
  }
  return problems;
}

function payloadProblems(label: string, entry: RecurringDeclaration, jobs: JobRegistry): string[] {
  const jobType = jobs.get(entry.type);
  if (jobType === undefined) return [`${label}: type ${jobs.notRegistered(entry.type)}`];
  if (entry.payload === undefined) return [`${label}: payload is required`];
  const json = JSON.stringify(entry.payload);
  if (json === undefined) return [`${label}: payload must be a JSON value`];
  if (Buffer.byteLength(json, 'utf8') > MAX_RECURRING_PAYLOAD_BYTES)
    return [`${label}: payload is over ${MAX_RECURRING_PAYLOAD_BYTES} bytes of JSON (27 KiB, what a recurring message's row always holds)`];
  let checked;
  try {
    checked = jobType.payload.safeParse(entry.payload);
  } catch {
    return []; // an asynchronous schema: checked when the message is enqueued, as every message is
  }
  if (checked.success) return [];
  return issuesFromZod(checked.error, ['payload']).map((issue) => `${label}: ${issue.field}: ${issue.message}`);
}

/** Parses the entries' schedules; throws a ScheduleError naming the entry (defineConfig reports it earlier, with the rest). */
export function planRecurring(entries: readonly RecurringDeclaration[]): RecurringPlan[] {
  return entries.map((entry) => {
    try {
      return { ...entry, parsed: parseSchedule(entry.schedule) };
    } catch (error) {
      if (error instanceof ScheduleError) throw new ScheduleError(entry.schedule, `recurring "${entry.name}": schedule "${entry.schedule}": ${error.message}`);
      throw error;
    }
  });
}

/** The dedup key of an entry's slot: the same in every process. */
export function slotKey(name: string, slot: Date): string {
  return `recurring:${name}:${slot.toISOString()}`;
}

const SLOT_KEY = /^recurring:(.+):(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)$/;

/** The entry and slot a dedup key was made for by `slotKey`; undefined for any other key. */
export function parseSlotKey(key: string | null): { entry: string; slot: Date } | undefined {
  const match = key === null ? null : SLOT_KEY.exec(key);
  if (match === null) return undefined;
  const slot = new Date(match[2]!);
  return Number.isNaN(slot.getTime()) ? undefined : { entry: match[1]!, slot };
}

/*
 * A slot is only ever enqueued while its message, if one was stored, cannot have been deleted by
 * retention yet: otherwise its dedup key would be free again and the slot enqueued twice. A
 * message is finished no earlier than its slot, and retention keeps it that long after finishing;
 * the allowance covers clocks of different drains that disagree. A purge frees a key sooner: it
 * leaves a mark per entry that the insert checks instead (lib/sql/recurringPurges.ts).
 */
const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60_000;

/** How far back a run looks for due slots on this queue: less than its messages are kept. */
export function lookBackMs(queue: Pick<QueueConfig, 'retentionSeconds' | 'deadRetentionSeconds'>): number {
  const keptMs = Math.min(queue.retentionSeconds, queue.deadRetentionSeconds ?? Number.POSITIVE_INFINITY) * 1_000;
  return keptMs - Math.min(CLOCK_SKEW_ALLOWANCE_MS, keptMs / 2);
}

/** The slots a run at `now` enqueues for the entry, oldest first: the latest, or the latest `catchUp`. */
export function dueSlots(plan: RecurringPlan, now: Date, lookBack: number): Date[] {
  return slotsAtOrBefore(plan.parsed, now, { count: plan.catchUp ?? 1, after: new Date(now.getTime() - lookBack), timeZone: plan.timezone });
}

/** The entry's first slot after `now`; undefined when its schedule has none left. */
export function nextSlot(plan: RecurringPlan, now: Date): Date | undefined {
  return nextSlotAfter(plan.parsed, now, { timeZone: plan.timezone });
}

/**
 * The config's recurring entries, planned, with what this process knows is stored: per entry the
 * newest slot written, so a run with no new slot since the last makes no call (lib/drain/recurring.ts).
 */
export interface RecurringState {
  readonly plans: readonly RecurringPlan[];
  readonly stored: Map<string, number>;
}

export function recurringState(entries: readonly RecurringDeclaration[]): RecurringState {
  return { plans: planRecurring(entries), stored: new Map() };
}
