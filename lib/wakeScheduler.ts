/**
 * Timed wakes: a drain run that ends with messages coming due later (delayed messages, retries,
 * leases that will expire, recurring slots) arranges for a drain to start then, instead of
 * relying on a frequent schedule that keeps the database from ever pausing. In AWS a one-time
 * EventBridge Scheduler schedule per stage and queue (`at(...)`, deleted after it runs) invokes
 * the drain; a newer wake replaces it, so a busy system keeps at most one schedule per queue.
 * Locally, `npm start` serves the same Scheduler API (dev/scheduler), so the same code path runs.
 *
 * EventBridge Scheduler invokes a target within the minute of its time (60 s precision), so a
 * wake is set for the minute before its due time, and the woken drain waits the rest out
 * (lib/drain/lane.ts looks ahead for messages coming due while the run can still finish them).
 * A wake that cannot be set is logged and counted; the periodic schedule, now a safety net,
 * still drains the message, at most its period late.
 */

import { createHash } from 'node:crypto';

/** Sets the one pending wake of a queue; setting it again replaces it. */
export interface WakeScheduler {
  setWake(queue: string, at: Date): Promise<void>;
}

/** EventBridge Scheduler fires a schedule within the minute of its time. */
export const SCHEDULER_PRECISION_MS = 60_000;

/** A wake is never asked for sooner than this from now: the call itself takes a moment, and a time past may be refused. */
const MIN_LEAD_MS = 2_000;

/**
 * The time to ask the Scheduler for so that a drain runs before `dueAt`: the start of the minute
 * a full minute before it (the invoke then lands within [that minute, dueAt)); with `lead: false`,
 * `dueAt` itself (a recurring slot, whose message exists only from then on). Never sooner than
 * a moment from `now`, in whole seconds.
 */
export function wakeTimeFor(dueAt: Date, now: Date, options: { lead?: boolean } = {}): Date {
  const wanted =
    options.lead === false ? dueAt.getTime() : Math.floor((dueAt.getTime() - SCHEDULER_PRECISION_MS) / SCHEDULER_PRECISION_MS) * SCHEDULER_PRECISION_MS;
  return new Date(Math.ceil(Math.max(wanted, now.getTime() + MIN_LEAD_MS) / 1_000) * 1_000);
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, the Scheduler's one-time expression (seconds rounded up). */
export function atExpression(at: Date): string {
  const seconds = new Date(Math.ceil(at.getTime() / 1_000) * 1_000);
  return `at(${seconds.toISOString().slice(0, 19)})`;
}

/**
 * Schedule names allow [0-9a-zA-Z-_.], 1–64 characters; queue names also allow `:` and 64
 * characters of their own. A name that does not fit as it is keeps a readable start and ends in
 * a hash of the queue's name, so two queues never share a schedule.
 */
export function wakeScheduleName(prefix: string, queue: string): string {
  const plain = `${prefix}${queue}`;
  if (plain.length <= 64 && /^[0-9a-zA-Z\-_.]+$/.test(plain)) return plain;
  const hash = createHash('sha256').update(queue).digest('hex').slice(0, 12);
  return `${plain.replace(/[^0-9a-zA-Z\-_.]/g, '_').slice(0, 64 - 13)}-${hash}`;
}

export interface EventBridgeWakeOptions {
  /** The stage's schedule group (serverless.yml). */
  groupName: string;
  /** Prepended to the queue's name: the stage, so stages sharing a group never collide. */
  namePrefix: string;
  /** The drain function's ARN. */
  targetArn: string;
  /** The role the Scheduler assumes to invoke the drain (and the only one the drain may pass). */
  roleArn: string;
  /** A local Scheduler API (dev/scheduler); absent in AWS. */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** Give up a call this slow: a missed wake is caught by the safety-net schedule. */
  timeoutMs?: number;
}

type SchedulerModule = typeof import('@aws-sdk/client-scheduler');

/**
 * A WakeScheduler on EventBridge Scheduler: UpdateSchedule, or CreateSchedule when the queue has
 * no pending schedule (the last one ran and deleted itself). The target gets `{ queue, wake: true,
 * wakeAt }`: a wake on enqueue's event, and the wake's own time.
 */
export function eventBridgeWakeScheduler(options: EventBridgeWakeOptions): WakeScheduler {
  // Loaded on first use: most runs set no wake.
  let loaded: Promise<{ sdk: SchedulerModule; client: InstanceType<SchedulerModule['SchedulerClient']> }> | undefined;
  const load = () =>
    (loaded ??= import('@aws-sdk/client-scheduler').then((sdk) => {
      const local = options.endpoint !== undefined && options.endpoint !== '';
      const client = new sdk.SchedulerClient({
        ...(options.region ? { region: options.region } : {}),
        ...(local ? { endpoint: options.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
        maxAttempts: 2,
      });
      return { sdk, client };
    }));
  return {
    async setWake(queue, at) {
      const { sdk, client } = await load();
      const input = {
        Name: wakeScheduleName(options.namePrefix, queue),
        GroupName: options.groupName,
        ScheduleExpression: atExpression(at),
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' as const },
        ActionAfterCompletion: 'DELETE' as const,
        // The woken run takes this wake off the queue (queue_state.wake_at) by its time.
        Target: { Arn: options.targetArn, RoleArn: options.roleArn, Input: JSON.stringify({ queue, wake: true, wakeAt: at.toISOString() }) },
      };
      const abortSignal = AbortSignal.timeout(options.timeoutMs ?? 3_000);
      try {
        await client.send(new sdk.UpdateScheduleCommand(input), { abortSignal });
      } catch (error) {
        if (!(error instanceof sdk.ResourceNotFoundException)) throw error;
        try {
          await client.send(new sdk.CreateScheduleCommand(input), { abortSignal });
        } catch (createError) {
          // Another drain created it meanwhile: ours replaces it.
          if (!(createError instanceof sdk.ConflictException)) throw createError;
          await client.send(new sdk.UpdateScheduleCommand(input), { abortSignal });
        }
      }
    },
  };
}

/** The wake scheduler the environment names (serverless.yml sets these), or none. */
export function wakeSchedulerFromEnv(env: NodeJS.ProcessEnv): WakeScheduler | undefined {
  const { WAKE_SCHEDULE_GROUP, WAKE_SCHEDULE_PREFIX, WAKE_TARGET_ARN, WAKE_ROLE_ARN } = env;
  if (!WAKE_SCHEDULE_GROUP || !WAKE_TARGET_ARN || !WAKE_ROLE_ARN) return undefined;
  return eventBridgeWakeScheduler({
    groupName: WAKE_SCHEDULE_GROUP,
    namePrefix: WAKE_SCHEDULE_PREFIX ?? '',
    targetArn: WAKE_TARGET_ARN,
    roleArn: WAKE_ROLE_ARN,
    endpoint: env.WAKE_SCHEDULER_ENDPOINT,
    region: env.AWS_REGION,
  });
}
