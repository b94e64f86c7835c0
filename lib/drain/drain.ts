import { setMaxListeners } from 'node:events';
import type { App } from '../app.js';
import { QueueError } from '../errors.js';
import { CLAIM_ALLOWANCE_MS, WAKE_INTERVAL_MS, type QueueConfig } from '../queues.js';
import { DrainActivity } from './activity.js';
import { enqueueDueRecurring, type RecurringRunResult } from './recurring.js';
import { listPausedQueues } from '../sql/queueState.js';
import { leaseFitsOneMessage, runFitsOneMessage } from './budget.js';
import { describeError } from '../errors.js';
import { QueueLane } from './lane.js';
import type { LaneSummary, StopReason } from './laneTypes.js';
import { MessageQuota } from './quota.js';
import { setNextWakes, type WakeCounts } from './nextWakes.js';
import { deleteExpiredMessages, retentionCutoffs } from './retention.js';
import { queueOverview, type QueueOverview } from '../sql/queueOverview.js';
import type { SettleCounts } from './settle.js';
import { DEFAULT_DRAIN_TUNING, silentLog, type DrainLog, type DrainTuning } from './types.js';
import { sleep } from '../sleep.js';
import { inSpan } from '../tracing.js';

export interface DrainOptions {
  /** Drain only this declared queue; all declared queues when omitted. */
  queue?: string;
  /** Claim at most this many messages in this run, over all queues. */
  maxMessages?: number;
  /** Time left before the run is cut off (a Lambda's `context.getRemainingTimeInMillis`). */
  remainingTimeMs: () => number;
  /** Stops the run: nothing more is claimed or started, running handlers are abandoned (retried). */
  signal?: AbortSignal;
  /** Waits for rate-limit tokens; tests pass one that moves a ManualClock. */
  sleep?: (ms: number) => Promise<void>;
  /** For backoff jitter. */
  random?: () => number;
  log?: DrainLog;
  tuning?: Partial<DrainTuning>;
  /**
   * Keep draining while work arrives, and poll a queue that runs dry for `idleMs` before
   * stopping. A woken run (`woken`) lingers from the start; any other only once it found work, so
   * a scheduled run over an idle queue stays one call.
   */
  linger?: { idleMs: number; woken: boolean };
  /** Read every selected queue's backlog as the run ends (DrainSummary.overview), for its metrics. */
  overview?: boolean;
  /** The time of the timed wake that started this run (with `queue`): the run takes it off the queue first. */
  wakeAt?: Date;
}

/** What a run did to messages, for one queue or all. Outcome counts are rows the writes changed. */
export interface DrainCounts extends SettleCounts {
  /** Messages leased by this run's claims. */
  claimed: number;
  /** Finished messages deleted by retention. */
  deleted: number;
}

export interface QueueDrainSummary extends DrainCounts {
  queue: string;
  dispatched: number;
  stoppedBecause: StopReason;
  /** A queue with per-group limits: claims its groups' limits held back. */
  throttledClaims?: number;
}

export interface DrainSummary extends DrainCounts {
  /** Recurring messages this run enqueued (due slots no other run had enqueued). */
  recurringEnqueued: number;
  durationMs: number;
  dataApiCalls: number;
  /** Selected queues left alone because they are paused. */
  pausedQueues: string[];
  /** The timed wakes the run set as it ended (lib/drain/nextWakes.ts), where the deployment has a scheduler. */
  wakes?: WakeCounts;
  /** Every selected queue as the run ended (its metrics), with `overview` or timed wakes; absent when out of time. */
  overview?: Map<string, QueueOverview>;
  queues: QueueDrainSummary[];
  errors: string[];
}

export class UnknownQueueError extends QueueError {
  readonly queue: string;

  constructor(queue: string, declared: readonly string[]) {
    super(`queue "${queue}" is not declared (declared: ${declared.join(', ')})`, { retryable: false });
    this.queue = queue;
  }
}

/**
 * A dry queue is polled again after 50 ms, doubling to every 100 ms: a message enqueued meanwhile
 * waits at most that (a trickle of 1 msg/s starts p50 70 ms after its enqueue, `npm run bench`).
 * Polls last only while the run lingers (drainLingerSeconds after the last work); an idle
 * deployment makes none.
 */
const LINGER_POLL_MIN_MS = 50;
const LINGER_POLL_MAX_MS = 100;
/** Held back by other runs' permits, a lane's polls back off further: those runs take what comes due. */
const LINGER_HELD_BACK_POLL_MAX_MS = 500;

/**
 * One drain run: the due recurring messages of every entry are enqueued first (whatever queues
 * the run selects: the slot's message then exists as soon as any run sees it), then every
 * selected, unpaused queue is drained at once by its own lane (so a busy queue cannot starve a
 * quiet one), until each is empty, out of time or out of `maxMessages`; then finished messages
 * past their retention are deleted with the time left.
 */
export async function drain(app: App, options: DrainOptions): Promise<DrainSummary> {
  const startedAt = performance.now();
  const callsBefore = app.db.stats.calls;
  const tuning: DrainTuning = { ...DEFAULT_DRAIN_TUNING, ...options.tuning };
  const log = options.log ?? silentLog;
  const { signal, release } = runSignal(options.signal);
  try {
    const selected = selectQueues(app, options.queue);
    // A run a timed wake started takes that wake off the queue: from now on a new one may be set.
    if (options.wakeAt !== undefined && options.queue !== undefined) await app.timedWakes?.woken(options.queue, options.wakeAt);
    const [paused, recurring] = await Promise.all([listPausedQueues(app.db), enqueueRecurring(app, log)]);
    const active = selected.filter((queue) => !paused.has(queue.name));
    const tooShort = runTooShort(app, active, options.remainingTimeMs(), tuning);
    for (const error of tooShort.values()) log.error('queue not drained: the run is too short for its longest handler', { error });

    // A run nobody woke (the safety-net schedule, a manual invoke) first reads every queue in one
    // call and drains only those with a message due, deleting history only where some expired:
    // over an idle deployment that one read replaces a claim and a delete per queue. A woken run
    // drains its queues (and lingers) whatever they hold.
    const plan = options.linger?.woken === true ? undefined : await readOverview(app, selected, log);
    const lanesFor = plan === undefined ? active : active.filter((queue) => needsLane(app, queue, plan.get(queue.name), tuning));
    const quotas = MessageQuota.split(options.maxMessages ?? Number.POSITIVE_INFINITY, lanesFor.length);
    const drained = await Promise.all(
      lanesFor.map((queue, i) => {
        const lane = new QueueLane({
          db: app.db,
          clock: app.clock,
          queue,
          jobs: app.jobs.carriedBy(queue.types),
          quota: quotas[i]!,
          remainingTimeMs: options.remainingTimeMs,
          signal,
          sleep: options.sleep ?? sleep,
          random: options.random ?? Math.random,
          tuning,
          log,
          ...(options.linger === undefined
            ? {}
            : {
                linger: {
                  idleMs: options.linger.idleMs,
                  pollMinMs: LINGER_POLL_MIN_MS,
                  pollMaxMs: LINGER_POLL_MAX_MS,
                  heldBackPollMaxMs: LINGER_HELD_BACK_POLL_MAX_MS,
                  onlyAfterWork: !options.linger.woken,
                  activity: new DrainActivity(app.db, app.clock, queue.name, WAKE_INTERVAL_MS, log),
                },
              }),
        });
        // One span per queue's lane (with an OpenTelemetry SDK): its claims and settles are its children.
        return inSpan(`drain ${queue.name}`, { 'messaging.destination.name': queue.name }, async (span) => {
          const summary = await lane.run();
          span?.setAttributes({
            'aurora_queue.claimed': summary.claimed,
            'aurora_queue.dispatched': summary.dispatched,
            'aurora_queue.stopped_because': summary.stoppedBecause,
          });
          return summary;
        });
      }),
    );

    const lanes = active.map((queue) => drained.find((lane) => lane.queue === queue.name) ?? idleLane(queue.name));
    const errors = [...recurring.errors, ...tooShort.values(), ...lanes.flatMap((lane) => lane.errors.map((error) => `${lane.queue}: ${error}`))];
    const claimed = lanes.reduce((sum, lane) => sum + lane.claimed, 0);

    // As the lanes end, every queue's state for the metrics and the next wakes: the plan read at
    // the start still holds when the run changed nothing; otherwise one more read, time allowing.
    // Before retention, so the wakes never wait on (or lose their time to) history deletes.
    let overview: Map<string, QueueOverview> | undefined;
    if (options.overview === true || app.timedWakes !== undefined) {
      if (plan !== undefined && claimed === 0 && recurring.enqueued === 0) overview = plan;
      else if (!signal.aborted && options.remainingTimeMs() > tuning.safetyMarginMs / 2) overview = await readOverview(app, selected, log);
    }
    const wakes =
      overview === undefined
        ? undefined
        : await setNextWakes(app, {
            overview,
            lanes,
            // A queue the run is too short for would be woken again at once, to the same end.
            queues: active.map((queue) => queue.name).filter((queue) => !tooShort.has(queue)),
          });

    const deleted = await Promise.all(
      lanes.map(async (lane) => {
        const queue = app.queues.get(lane.queue)!;
        if (plan !== undefined && plan.get(queue.name)?.hasExpired === false) return 0;
        try {
          return await deleteExpiredMessages(app.db, queue, {
            now: app.clock.now(),
            batchSize: tuning.retentionBatchSize,
            maxCalls: tuning.retentionMaxCalls,
            hasTime: () => !signal.aborted && options.remainingTimeMs() > tuning.safetyMarginMs / 2,
          });
        } catch (error) {
          errors.push(`${lane.queue}: retention failed: ${describeError(error)}`);
          log.error('retention failed', { queue: lane.queue, error: describeError(error) });
          return 0;
        }
      }),
    );

    const queues = lanes.map((lane, i) => queueSummary(lane, deleted[i]!));
    const total = (key: keyof DrainCounts) => queues.reduce((sum, queue) => sum + queue[key], 0);
    return {
      claimed: total('claimed'),
      done: total('done'),
      retried: total('retried'),
      dead: total('dead'),
      cancelled: total('cancelled'),
      released: total('released'),
      lostLeases: total('lostLeases'),
      unsettled: total('unsettled'),
      deleted: total('deleted'),
      recurringEnqueued: recurring.enqueued,
      durationMs: Math.round(performance.now() - startedAt),
      dataApiCalls: app.db.stats.calls - callsBefore,
      pausedQueues: selected.filter((queue) => paused.has(queue.name)).map((queue) => queue.name),
      queues,
      errors,
      ...(wakes === undefined ? {} : { wakes }),
      ...(overview === undefined ? {} : { overview }),
    };
  } finally {
    release();
  }
}

/** Every selected queue in one read (lib/sql/queueOverview.ts); undefined when it fails, and the run goes on without it. */
async function readOverview(app: App, queues: readonly QueueConfig[], log: DrainLog): Promise<Map<string, QueueOverview> | undefined> {
  const now = app.clock.now();
  try {
    return await queueOverview(
      app.db,
      queues.map((queue) => ({ queue: queue.name, ...retentionCutoffs(queue, now) })),
      now,
    );
  } catch (error) {
    log.warn('could not read the queues’ backlogs; draining every queue', { error: describeError(error) });
    return undefined;
  }
}

/**
 * Whether a run nobody woke drains the queue: a message is due now, or its lease cannot fit the
 * longest handler it carries (the lane reports that error, and makes no call).
 */
function needsLane(app: App, queue: QueueConfig, overview: QueueOverview | undefined, tuning: DrainTuning): boolean {
  if (overview === undefined || overview.dueNow) return true;
  return !leaseFitsOneMessage(queue.leaseSeconds * 1_000, longestHandler(app, queue, tuning).timeoutMs, tuning.safetyMarginMs);
}

/** The handler of the queue's types (all registered, unless it names its own) that may run longest. */
function longestHandler(app: App, queue: QueueConfig, tuning: DrainTuning): { type: string | undefined; timeoutMs: number } {
  return app.jobs.carriedBy(queue.types).longestTimeout(tuning.defaultTimeoutMs);
}

/** A queue the run did not drain: nothing was due. */
function idleLane(queue: string): LaneSummary {
  return {
    queue,
    claimed: 0,
    dispatched: 0,
    stoppedBecause: 'empty',
    errors: [],
    done: 0,
    retried: 0,
    dead: 0,
    cancelled: 0,
    released: 0,
    lostLeases: 0,
    unsettled: 0,
  };
}

/**
 * Queues of which this run cannot take even one message for lack of time, with the error to report (a lease too short is
 * its lane's own error). Their lanes stop at once for 'time', as at a run's normal end; but a run
 * too short from its start drains nothing, ever (`aurora-queue drain --in-process --timeout 12`
 * with 10 s handlers, a drainTimeoutSeconds below a type's timeout), so it is an error that fails
 * the run and the CLI, not a quiet success.
 */
function runTooShort(app: App, queues: readonly QueueConfig[], remainingMs: number, tuning: DrainTuning): Map<string, string> {
  const marginMs = tuning.safetyMarginMs;
  const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;
  const tooShort = queues
    .map((queue) => ({ queue, longest: longestHandler(app, queue, tuning) }))
    .filter(({ queue, longest }) => leaseFitsOneMessage(queue.leaseSeconds * 1_000, longest.timeoutMs, marginMs))
    .filter(({ queue, longest }) => !runFitsOneMessage({ remainingMs, timeoutMs: longest.timeoutMs, marginMs, ratePerSecond: queue.drainRatePerSecond }))
    .map(({ queue, longest }): [string, string] => {
      const spacingMs = queue.drainRatePerSecond === undefined ? 0 : Math.ceil(1_000 / queue.drainRatePerSecond);
      // The time named counts the claim's round trip as well, as the lease rule does: a run of
      // exactly timeout + margin would still lose its one message to the claim's own time.
      const neededMs = longest.timeoutMs + spacingMs + marginMs + CLAIM_ALLOWANCE_MS;
      return [
        queue.name,
        `${queue.name}: not drained: the run has ${Math.round(remainingMs / 1_000)} s, too little for its longest handler ` +
          `(${longest.type ?? 'default'}: timeout ${seconds(longest.timeoutMs)}${spacingMs > 0 ? ` + rate spacing ${seconds(spacingMs)}` : ''} + ` +
          `margin ${seconds(marginMs)} + claim ${seconds(CLAIM_ALLOWANCE_MS)} = ${seconds(neededMs)})`,
      ];
    });
  return new Map(tooShort);
}

/** A recurring message that cannot be enqueued is the run's error, never its failure: the lanes drain regardless. */
async function enqueueRecurring(app: App, log: DrainLog): Promise<RecurringRunResult> {
  let result: RecurringRunResult;
  try {
    result = await enqueueDueRecurring(app, app.clock.now());
  } catch (error) {
    result = { enqueued: 0, duplicates: 0, errors: [`recurring: ${describeError(error)}`] };
  }
  for (const error of result.errors) log.error('recurring enqueue failed', { error });
  return result;
}

/**
 * The run's own signal: every handler in flight listens to it, more than the default 10 listeners
 * allow. `release` detaches it from the caller's signal, which may outlive many runs.
 */
function runSignal(outer: AbortSignal | undefined): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const forward = () => controller.abort(outer?.reason);
  if (outer?.aborted) forward();
  else outer?.addEventListener('abort', forward, { once: true });
  return { signal: controller.signal, release: () => outer?.removeEventListener('abort', forward) };
}

function selectQueues(app: App, name: string | undefined): QueueConfig[] {
  if (name === undefined) return [...app.queues.values()];
  const queue = app.queues.get(name);
  if (queue === undefined) throw new UnknownQueueError(name, [...app.queues.keys()]);
  return [queue];
}

function queueSummary({ errors: _errors, ...lane }: LaneSummary, deleted: number): QueueDrainSummary {
  return { ...lane, deleted };
}
