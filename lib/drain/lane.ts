import { isBatchType, type BatchJobType, type JobType } from '../jobs/types.js';
import { nextAvailableAt } from '../backoff.js';
import { describeError } from '../errors.js';
import { clip } from '../clip.js';
import {
  CLAIM_ALLOWANCE_MS,
  declaresGroupLimits,
  groupLimitsOf,
  handlerLeaseMs,
  minimumLeaseMs,
  runConcurrency,
  type GroupLimits,
  type QueueConfig,
} from '../queues.js';
import { messageLogKeys } from '../observability.js';
import { nextDueAt } from '../sql/nextDueAt.js';
import { ERROR_LIMIT } from './attempt.js';
import { endAttemptSpan, endBatchSpan, inSpan, startAttemptSpan, startBatchSpan, withSpan, type Span } from '../tracing.js';
import { releaseRunPermits } from '../sql/permits.js';
import { BackoffPolicies } from './backoffPolicies.js';
import { claimLimit, leaseFitsOneMessage, mayStart } from './budget.js';
import { claimMessages, keepLateClaimPermits, type Claim, type HeldClaimedMessage } from './claim.js';
import { BatchGathering } from './batchGathering.js';
import { dispatchBatch, type BatchOutcomes } from './batchDispatch.js';
import { ClaimDepth } from './claimDepth.js';
import { CancelWatch } from './cancelWatch.js';
import { dispatch, finalOutcome, type Outcome } from './dispatch.js';
import { laneProgressWriter, type ProgressWriter } from './progress.js';
import { FifoHeads } from './fifoHeads.js';
import { GroupThrottle } from './groupThrottle.js';
import { FifoFollowers } from './followers.js';
import { LanePermits } from './lanePermits.js';
import { laneSettler } from './laneSettler.js';
import { LeaseKeeper } from './leaseKeeper.js';
import type { LaneOptions, LaneSummary, StopReason } from './laneTypes.js';
import { LingerSchedule } from './lingerSchedule.js';
import { LoopWakeups } from './loopWakeups.js';
import { claimBatchSize, permittedClaim } from './permitBudget.js';
import { canRunAfterPromise, waitsOnOwnPermits } from './promiseKeeping.js';
import { ClaimRetry } from './claimRetry.js';
import { TokenBucket } from './rateLimiter.js';
import type { RateStarts } from './rateStarts.js';
import { ReadyQueue } from './readyQueue.js';
import { RunningAttempts } from './runningAttempts.js';
import type { Settler } from './settle.js';

/**
 * What a timer wakes the lane's loop for: a rate-limit token, a lingering poll, permits, a start
 * time, FIFO heads, renewing the promise, a message late for its start time, a partial batch due,
 * a claim again after one failed.
 */
type TimerReason = 'token' | 'poll' | 'permits' | 'start' | 'heads' | 'groups' | 'promise' | 'late' | 'batch' | 'retry';

/**
 * What the lane is doing, changed only through #setMode:
 * - `claiming`: claims as the time budget, the queue's limits and (FIFO) its heads allow.
 * - `lingering`: a claim found the queue dry (with a LaneLinger): polls with a backing-off
 *   interval until idle for `idleMs` and past its promise, looks ahead for messages coming due,
 *   then stops. A claim that finds a full batch returns it to `claiming`.
 * - `stopping`: claims no more (#stopReason says why), finishes what it holds, and the run ends
 *   once every claim, handler and follower is done. It never leaves this mode.
 * Being held back by the queue-wide limits is not a mode: a lane may be held back while claiming
 * or while lingering (held back holding no permits, it is as good as idle), see LanePermits.
 */
type LaneMode = 'claiming' | 'lingering' | 'stopping';

/**
 * Drains one queue within a run, as a pipeline: up to `maxClaimsInFlight` claims run while the
 * messages of earlier ones are dispatched, and outcomes are written by a Settler in the
 * background, so Data API latency overlaps with handler work instead of adding to it. Every
 * claim is sized by the time budget (see budget.ts), starts are gated by the queue's concurrency
 * and rate limit, and nothing in the per-message path awaits a timer or makes a call of its own.
 *
 * The lane is a small state machine driven by one loop: start what may start, claim what may be
 * claimed, then sleep until something changes (a claim lands, a handler ends, a write ends, a
 * rate-limit token is due, the run is aborted).
 */
export class QueueLane {
  readonly #o: LaneOptions;
  readonly #queue: QueueConfig;
  readonly #settler: Settler;
  /** Running handlers' context.progress, written at most once a second per message. */
  readonly #progress: ProgressWriter;
  readonly #bucket: TokenBucket | undefined;
  /** The longest any handler of the queue's types may run: what the claim budget must plan for. */
  readonly #longestTimeoutMs: number;
  /** Messages a handler call takes at fewest (batch types): what a claim's budget counts per handler. */
  readonly #messagesPerHandler: number;
  /** Retry backoff by job type. */
  readonly #backoffs: BackoffPolicies;
  readonly #errors: string[] = [];

  /** Claimed, read, not started. */
  readonly #ready = new ReadyQueue<HeldClaimedMessage>();
  /** Ready messages of batch types, gathered into batches (a running batch counts once in #running). */
  readonly #batches = new BatchGathering<HeldClaimedMessage>();
  #running = 0;
  #claimsInFlight = 0;
  /** Messages the claims in flight may bring. */
  #claiming = 0;
  #claimed = 0;
  #dispatched = 0;
  #mode: LaneMode = 'claiming';
  /** Why the lane is stopping (set with the mode). */
  #stopReason: StopReason | undefined;
  readonly #depth: ClaimDepth;

  /** Whether a claim of this run found work (a lane that lingers only after work needs one). */
  #sawWork = false;
  /** Lingering: when to poll a dry queue and when to give up (with a LaneLinger). */
  readonly #pollSchedule: LingerSchedule | undefined;
  /** What wakes the loop: a change notified, or a timer (at most one per reason). */
  readonly #wakeups: LoopWakeups<TimerReason>;
  /** Handlers this run may run at once: its own fan-out within the queue-wide concurrency. */
  readonly #concurrency: number;
  /** The queue-wide permits this lane holds and waits for. */
  readonly #permits: LanePermits;
  /** Under a queue-wide rate: when messages start, and which are late (the permits' own). */
  readonly #rateStarts: RateStarts;
  /** FIFO followers, waiting for their head's outcome. */
  readonly #followers = new FifoFollowers<HeldClaimedMessage>();
  /** A FIFO lane's head candidates, and when it claims heads again. */
  readonly #fifoHeads = new FifoHeads();
  /** A grouped queue's limits (none for a FIFO queue, which runs one per group its own way). */
  readonly #groups: GroupLimits | undefined;
  /** A group of the queue had an override at the last candidates read (Claim.groupsOverridden). */
  #groupsOverridden = false;
  /** When a lane held back by its groups' limits claims again. */
  readonly #groupThrottle: GroupThrottle;
  /** When the lane claims again after a claim failed, or whether it stops. */
  readonly #claimRetry = new ClaimRetry();
  /** Claims the groups' limits held back (the ThrottledClaims metric). */
  #throttledClaims = 0;
  /** Run permits' give-back writes in flight; the run ends only once they have. */
  readonly #permitReturns = new Set<Promise<void>>();
  /** Heartbeats: the leases of every message the lane holds, kept until it ends. */
  readonly #leases: LeaseKeeper;
  /** Cancel requests of the running messages. */
  readonly #cancels: CancelWatch;
  /** The running attempts, as a lost lease or a cancel stops them. */
  readonly #attempts: RunningAttempts;
  /** The lease is shorter than the longest handler: heartbeats keep it, and only the run bounds handlers. */
  readonly #keptAlive: boolean;

  constructor(options: LaneOptions) {
    this.#o = options;
    this.#queue = options.queue;
    this.#groups = groupLimitsOf(options.queue);
    this.#wakeups = new LoopWakeups(options.sleep);
    this.#settler = laneSettler(options, { onWrite: () => this.#wakeups.notify(), onGiveUp: (error) => this.#errors.push(error) });
    this.#progress = laneProgressWriter(options);
    this.#backoffs = new BackoffPolicies(this.#queue.backoff);
    this.#depth = new ClaimDepth(options.tuning.maxClaimsInFlight);
    this.#pollSchedule = options.linger === undefined ? undefined : new LingerSchedule(options.linger);
    this.#bucket =
      this.#queue.drainRatePerSecond === undefined ? undefined : new TokenBucket({ ratePerSecond: this.#queue.drainRatePerSecond, clock: options.clock });
    this.#concurrency = runConcurrency(this.#queue);
    this.#permits = new LanePermits(this.#queue);
    this.#rateStarts = this.#permits.rateStarts;
    this.#groupThrottle = new GroupThrottle(options.clock.now().getTime());
    // The queue's types (options.jobs: those it carries, or every registered type). The default
    // counts only for types that set no timeout of their own: a queue of fast types with short
    // timeouts may hold (and pipeline) more messages within one lease.
    this.#longestTimeoutMs = options.jobs.longestTimeout(options.tuning.defaultTimeoutMs).timeoutMs;
    this.#messagesPerHandler = options.jobs.messagesPerHandler();
    this.#keptAlive = handlerLeaseMs(this.#longestTimeoutMs, options.tuning.safetyMarginMs) > this.#queue.leaseSeconds * 1_000;
    this.#leases = new LeaseKeeper({
      db: options.db,
      clock: options.clock,
      queue: this.#queue.name,
      leaseMs: this.#queue.leaseSeconds * 1_000,
      log: options.log,
      runPermits: this.#permits.limits?.run !== undefined,
      onLost: (messages, reason) => {
        this.#o.log.warn('leases lost while held; their handlers are stopped and their outcomes not written', {
          queue: this.#queue.name,
          lost: messages.length,
          reason,
        });
        this.#attempts.lost(messages, reason);
      },
    });
    this.#cancels = new CancelWatch({
      db: options.db,
      queue: this.#queue.name,
      everyMs: options.tuning.cancelPollMs,
      log: options.log,
      onCancel: (message) => this.#attempts.cancel(message.id),
    });
    this.#attempts = new RunningAttempts(this.#leases, this.#cancels);
  }

  async run(): Promise<LaneSummary> {
    const onAbort = () => this.#wakeups.notify();
    this.#o.signal.addEventListener('abort', onAbort);
    // A woken lane promises at once to poll its queue: enqueues meanwhile need not wake another.
    if (this.#o.linger !== undefined && !this.#o.linger.onlyAfterWork) this.#o.linger.activity.touch();
    try {
      if (!leaseFitsOneMessage(this.#queue.leaseSeconds * 1_000, this.#longestTimeoutMs, this.#o.tuning.safetyMarginMs)) this.#refuseShortLease();
      for (;;) {
        this.#wakeups.beginTurn();
        this.#stopIfAborted();
        this.#startReady();
        this.#claimMore();
        this.#startBatches();
        this.#keepPromise();
        if (this.#isFinished()) break;
        if (!this.#wakeups.changed) await this.#wakeups.nextChange();
      }
    } finally {
      this.#o.signal.removeEventListener('abort', onAbort);
      this.#o.quota.close();
      await Promise.all([this.#leases.close(), this.#cancels.close()]);
      await Promise.all([this.#settler.close(), this.#o.linger?.activity.close()]);
      while (this.#permitReturns.size > 0) await Promise.all(this.#permitReturns);
    }
    return {
      queue: this.#queue.name,
      claimed: this.#claimed,
      dispatched: this.#dispatched,
      stoppedBecause: this.#stopReason ?? 'empty',
      ...(this.#groups === undefined ? {} : { throttledClaims: this.#throttledClaims }),
      errors: this.#errors,
      ...this.#settler.counts,
    };
  }

  /** The queue's lease is too short even for heartbeats (minimumLeaseMs): the lane stops at once, and fails the run. */
  #refuseShortLease(): void {
    this.#stop('lease-too-short');
    const neededMs = minimumLeaseMs(this.#longestTimeoutMs, this.#o.tuning.safetyMarginMs);
    // An error, not a quiet stop: a queue that can never be drained must fail the run (and the CLI).
    this.#errors.push(
      `not drained: its lease (${this.#queue.leaseSeconds} s) is too short: it needs ${neededMs / 1_000} s, the least of the longest handler's ` +
        `(timeout ${this.#longestTimeoutMs / 1_000} s + margin ${this.#o.tuning.safetyMarginMs / 1_000} s + claim ${CLAIM_ALLOWANCE_MS / 1_000} s) ` +
        `and what heartbeats need (claim ${CLAIM_ALLOWANCE_MS / 1_000} s + 1.5 × (margin + a beat's round trip))`,
    );
    this.#o.log.error('queue not drained: its lease is too short even for heartbeats', {
      queue: this.#queue.name,
      leaseSeconds: this.#queue.leaseSeconds,
      longestTimeoutMs: this.#longestTimeoutMs,
      safetyMarginMs: this.#o.tuning.safetyMarginMs,
      claimAllowanceMs: CLAIM_ALLOWANCE_MS,
    });
  }

  /** Whatever stopped the lane before, an abort is why it ends now; what waits to start goes back. */
  #stopIfAborted(): void {
    if (!this.#o.signal.aborted) return;
    this.#setMode('stopping', 'aborted');
    this.#releaseReady();
  }

  /**
   * The one place the lane's mode changes. Stopping is final: a later change is ignored, but a
   * later reason replaces the first (an abort). A lane that stops before its promise to poll has
   * passed (time, an error, max-messages, an abort) cannot keep it: it is withdrawn, so enqueues
   * from now on wake another drain. (One that stops on a dry queue has polled past it.)
   */
  #setMode(mode: 'claiming' | 'lingering'): void;
  #setMode(mode: 'stopping', reason: StopReason): void;
  #setMode(mode: LaneMode, reason?: StopReason): void {
    if (mode === 'stopping') {
      this.#stopReason = reason;
      this.#o.linger?.activity.withdraw();
    } else if (this.#mode === 'stopping') return;
    this.#mode = mode;
  }

  /** Stops the lane for this reason, unless it is stopping already. */
  #stop(reason: StopReason): void {
    if (this.#mode !== 'stopping') this.#setMode('stopping', reason);
  }

  /** Whether the run of this lane is over: stopping, and every claim, handler and follower done. */
  #isFinished(): boolean {
    return (
      this.#mode === 'stopping' &&
      this.#claimsInFlight === 0 &&
      this.#running === 0 &&
      this.#ready.size === 0 &&
      this.#batches.size === 0 &&
      this.#followers.size === 0
    );
  }

  /** Messages of this run not yet written back: waiting, running, following their head, or settling. */
  #holdsMessages(): boolean {
    return this.#running > 0 || this.#ready.size > 0 || this.#batches.size > 0 || this.#followers.size > 0 || this.#settler.unsettled > 0;
  }

  /**
   * Messages the lane has taken on and not finished: claims in flight, waiting and running (the
   * claim budget's `held`), a batch counted as the one handler it is (gathered or running).
   */
  #unfinished(): number {
    return this.#claiming + this.#ready.size + this.#batches.handlers + this.#running;
  }

  /** Ready messages whose start time (a queue-wide rate's) has not come: the newest, at the tail. */
  #waitingToStart(): number {
    return this.#ready.waitingToStart(this.#o.clock.now().getTime());
  }

  /**
   * A claim found the queue dry (fewer than it asked for; `foundSome`: it found some): a lane that
   * lingers starts (or, having found some, restarts) its idle spell; any other stops.
   */
  #lingerOrStop(foundSome: boolean): void {
    const linger = this.#o.linger;
    if (linger === undefined || (linger.onlyAfterWork && !this.#sawWork)) {
      this.#stop('empty');
      return;
    }
    const nowMs = this.#o.clock.now().getTime();
    if (this.#mode !== 'lingering' || foundSome) {
      this.#setMode('lingering');
      this.#pollSchedule?.startIdle(nowMs);
    }
  }

  /**
   * While lingering on a dry queue, the poll's turn: true when the next poll is due now (it is
   * counted as begun); otherwise arms the poll timer, or once the lane has been idle for `idleMs`
   * and a poll began after its promise ended looks ahead or stops the lane, and returns false.
   * Always true while claiming.
   */
  #schedulePollOrStop(): boolean {
    const schedule = this.#pollSchedule;
    const linger = this.#o.linger;
    if (schedule === undefined || linger === undefined || this.#mode !== 'lingering') return true;
    if (this.#claimsInFlight > 0) return false;
    const nowMs = this.#o.clock.now().getTime();
    // Not while a FIFO lane holds messages: each outcome may let its group's next lead.
    const mayEnd = !(this.#queue.fifo && this.#holdsMessages());
    const turn = schedule.turn(nowMs, {
      promisedUntilMs: linger.activity.promisedUntilMs,
      mayEnd,
      capacityIsOthers: this.#permits.heldBackHoldingNone,
      settled: !this.#holdsMessages(),
    });
    switch (turn) {
      case 'look-ahead':
        this.#lookAhead(nowMs);
        return false;
      case 'settle-first':
        // Each handler's end and each write wakes the loop (no timer needed).
        return false;
      case 'stop':
        this.#stop('empty');
        return false;
      case 'wait':
        this.#wakeups.after('poll', schedule.msUntilPoll(nowMs));
        return false;
      case 'poll-and-promise':
        linger.activity.touch();
        return true;
      case 'poll':
        return true;
    }
  }

  /**
   * Before a lingering lane stops: a delayed message or retry that comes due while the run could
   * still finish it is waited for and dispatched at its due time, not at the next schedule.
   */
  #lookAhead(nowMs: number): void {
    // Due early enough that its handler, at worst, ends with the margin to spare before the run must:
    // the time a claimed message needs, as a lease needs it (minimumLeaseMs).
    const horizonMs = nowMs + this.#o.remainingTimeMs() - handlerLeaseMs(this.#longestTimeoutMs, this.#o.tuning.safetyMarginMs);
    if (horizonMs <= nowMs) {
      this.#wakeups.notify();
      return;
    }
    this.#claimsInFlight++;
    nextDueAt(this.#o.db, { queue: this.#queue.name, now: new Date(nowMs), horizon: new Date(horizonMs) })
      .then(
        (dueAt) => {
          if (dueAt === undefined) return;
          // Idle again from the due time on: the poll at that moment claims it.
          this.#pollSchedule?.idleFrom(dueAt.getTime());
        },
        (error: unknown) =>
          this.#o.log.warn('could not look for messages coming due; they wait for the next run', { queue: this.#queue.name, error: describeError(error) }),
      )
      .finally(() => {
        this.#claimsInFlight--;
        this.#wakeups.notify();
      });
  }

  /** Whether another claim may go out, before it is sized: the lane claims, and claims are what holds it up. */
  #hasRoomForAnotherClaim(): boolean {
    if (this.#mode === 'stopping') return false;
    // One claim at a time until one comes back full (an idle queue costs one call per run), then
    // as deep as the claims' round trips show the database can take. A FIFO queue's claims one at
    // a time: a second claim in flight would find the heads the first is taking locked, and cost a
    // call for nothing. So are a lane's held back by the queue-wide limits: the permits one claim
    // cannot get, a second cannot either.
    if (this.#claimsInFlight >= (this.#queue.fifo || this.#permits.heldBack || this.#groupThrottle.heldBack ? 1 : this.#depth.limit)) return false;
    // Enough waiting already (the handlers or the rate limit are the bottleneck, not claims);
    // messages waiting out their start delay (a queue-wide rate) are not held up by either.
    if (this.#ready.size - this.#waitingToStart() >= this.#queue.batchSize) return false;
    // Writes are behind: let them catch up before taking on more.
    return this.#settler.unsettled < this.#o.tuning.maxUnsettled;
  }

  #claimMore(): void {
    const { tuning } = this.#o;
    while (this.#hasRoomForAnotherClaim()) {
      const held = this.#unfinished();
      let budget = claimLimit({
        remainingMs: this.#o.remainingTimeMs(),
        // Kept alive by heartbeats, a lease bounds nothing: the run does.
        leaseMs: this.#keptAlive ? Infinity : this.#queue.leaseSeconds * 1_000,
        claimAllowanceMs: CLAIM_ALLOWANCE_MS,
        marginMs: tuning.safetyMarginMs,
        timeoutMs: this.#longestTimeoutMs,
        concurrency: this.#concurrency,
        ratePerSecond: this.#queue.drainRatePerSecond,
        held,
        batchSize: claimBatchSize(this.#queue.batchSize, this.#concurrency, this.#permits.limits !== undefined),
        messagesPerHandler: this.#messagesPerHandler,
      });
      if (budget === 0) {
        // With nothing held, waiting will not make room: the run is out of time for this queue.
        if (held === 0) this.#stop('time');
        return;
      }
      if (this.#permits.limits !== undefined) {
        budget = permittedClaim({
          budget,
          concurrency: this.#concurrency,
          hasRunPermits: this.#permits.limits.run !== undefined,
          held,
          running: this.#running,
          due: this.#ready.size - this.#waitingToStart(),
          ownRunPermitsGoingBack: this.#permitReturns.size > 0,
          // A late message goes back once no claim is out (#releaseLate).
          lateGoingBack: this.#rateStarts.lateGoingBack(this.#ready.peek(), this.#o.clock.now().getTime()),
        });
        if (budget === 0) return;
        const waitMs = this.#permits.msUntilClaim(this.#o.clock.now().getTime());
        if (waitMs > 0) {
          this.#wakeups.after('permits', waitMs);
          return;
        }
      }
      if (this.#queue.fifo) {
        const waitMs = this.#fifoHeads.msUntilClaim(this.#o.clock.now().getTime());
        if (waitMs > 0) {
          this.#wakeups.after('heads', waitMs);
          return;
        }
      }
      if (this.#groups !== undefined) {
        // With per-group limits (declared, or a group's override), claim only what can start now: a
        // message waiting in the run counts against its group's concurrency and waits out its rate
        // permit's time. (Fair alone needs no such cap: each claim is in fair order, so another
        // group's next message waits behind at most what the lane holds, as the contract allows.)
        if (declaresGroupLimits(this.#groups) || this.#groupsOverridden) {
          budget = Math.min(budget, this.#concurrency - held);
          if (budget <= 0) return;
        }
        const waitMs = this.#groupThrottle.msUntilClaim(this.#o.clock.now().getTime());
        if (waitMs > 0) {
          this.#wakeups.after('groups', waitMs);
          return;
        }
      }
      const retryInMs = this.#claimRetry.msUntilClaim(this.#o.clock.now().getTime());
      if (retryInMs > 0) {
        this.#wakeups.after('retry', retryInMs);
        return;
      }
      if (!this.#schedulePollOrStop()) return;
      const limit = this.#o.quota.reserve(budget);
      if (limit === 0) {
        this.#stop('max-messages');
        return;
      }
      this.#claim(limit);
    }
  }

  #claim(limit: number): void {
    this.#claimsInFlight++;
    this.#claiming += limit;
    const now = this.#o.clock.now();
    // Real elapsed time, not the run's clock: this measures the database, not the queue's schedule.
    const startedMs = performance.now();
    inSpan(`claim ${this.#queue.name}`, { 'messaging.destination.name': this.#queue.name }, async (span) => {
      const claim = await claimMessages(this.#o.db, {
        queue: this.#queue.name,
        limit,
        now,
        leaseMs: this.#queue.leaseSeconds * 1_000,
        maxPageBytes: this.#o.tuning.maxPageBytes,
        fifo: this.#queue.fifo,
        permits: this.#permits.limits,
        heads: this.#fifoHeads.candidates,
        ...(this.#groups === undefined ? {} : { groups: this.#groups, groupsOverridden: this.#groupsOverridden }),
      });
      span?.setAttribute('messaging.batch.message_count', claim.claimed);
      return claim;
    })
      .then(
        async (claim) => {
          const roundTripMs = performance.now() - startedMs;
          await this.#vouchForStart(claim, roundTripMs);
          this.#receiveClaim(claim, limit, roundTripMs);
        },
        (error: unknown) => {
          this.#o.quota.giveBack(limit);
          if (this.#mode !== 'stopping' && this.#claimRetry.failed(error, this.#o.clock.now().getTime())) {
            this.#o.log.warn('claim failed; this queue is claimed again shortly', { queue: this.#queue.name, error: describeError(error) });
            return;
          }
          this.#stop('error');
          this.#errors.push(`claim failed: ${describeError(error)}`);
          this.#o.log.error('claim failed; this queue is not drained further in this run', {
            queue: this.#queue.name,
            error: describeError(error),
          });
        },
      )
      .finally(() => {
        this.#claimsInFlight--;
        this.#claiming -= limit;
        this.#wakeups.notify();
      });
  }

  /**
   * Under a queue-wide rate, a claim late for its messages' start time keeps its rate permits with
   * one write (RateStarts.lateClaim). Should it fail, land too late, or find some permits gone to
   * another drain, they stay late and go back (#releaseLate), attempts returned. The claim counts
   * as in flight until this is done.
   */
  async #vouchForStart(claim: Claim, roundTripMs: number): Promise<void> {
    const vouch = this.#rateStarts.lateClaim(claim.messages, this.#o.clock.now().getTime(), roundTripMs);
    if (vouch === undefined) return;
    try {
      const queueRate = this.#permits.limits?.rate !== undefined;
      if (!(await keepLateClaimPermits(this.#o.db, { queue: this.#queue.name, claim, queueRate, vouch }))) {
        this.#o.log.warn('a late claim no longer held its rate permits; its messages go back', { queue: this.#queue.name, messages: claim.messages.length });
        return;
      }
    } catch (error) {
      this.#o.log.warn('could not keep a late claim its rate permits; its messages go back', { queue: this.#queue.name, error: describeError(error) });
      return;
    }
    this.#rateStarts.vouched(claim.messages, vouch, this.#o.clock.now().getTime());
  }

  /** A claim landed: counts it, updates the permits and the mode, and makes its messages ready. */
  #receiveClaim(claim: Claim, limit: number, roundTripMs: number): void {
    this.#claimRetry.landed();
    this.#claimed += claim.claimed;
    this.#o.quota.giveBack(limit - claim.claimed);
    if (claim.claimed > 0) this.#sawWork = true;
    this.#permits.claimLanded(claim, limit, this.#o.clock.now().getTime(), this.#claimsInFlight === 1);
    if (claim.groupsOverridden !== undefined) this.#groupsOverridden = claim.groupsOverridden;
    if (this.#groups !== undefined) this.#groupThrottle.claimLanded(claim.throttled === true, claim.claimed, this.#o.clock.now().getTime());
    if (claim.throttled === true) this.#throttledClaims++;
    if (this.#permits.heldBackHoldingNone && claim.claimed === 0) {
      // Every permit is another run's: that run claims again as its handlers end (and promises
      // to, #keepPromise). Idle: a lingering lane polls backing off, then stops; any other stops.
      this.#lingerOrStop(false);
    } else if (this.#queue.fifo && (claim.claimed > 0 || this.#holdsMessages())) {
      // Their groups' next messages lead once their outcomes are written (FifoHeads). Not dry.
      this.#fifoHeads.claimedWhileHolding(this.#o.clock.now().getTime());
      if (claim.claimed === limit) this.#setMode('claiming');
      // Found work while idle: the idle spell starts again (as a dry claim that found some does).
      else if (claim.claimed > 0 && this.#mode === 'lingering') this.#lingerOrStop(true);
    } else if (claim.throttled === true && (claim.claimed > 0 || this.#holdsMessages() || this.#groupThrottle.activeRecently(this.#o.clock.now().getTime()))) {
      // Due messages wait for their groups' capacity (held by this lane, rate windows it or runs
      // before it used, or claims beside its first): not dry. Claim again as outcomes are written
      // or after the throttle's backoff (GroupThrottle). One holding nothing and idle for a while
      // lingers or stops: the drains holding the groups' capacity claim again themselves. Found
      // work while idle: not idle any more.
      if (claim.claimed > 0 && this.#mode === 'lingering') this.#lingerOrStop(true);
    } else if (claim.claimed < (claim.permitted ?? limit)) {
      // Fewer than asked for: every other due message is locked by a concurrent claim, which takes it.
      this.#lingerOrStop(claim.claimed > 0);
    } else if (!this.#permits.heldBack) {
      // A full claim. (One held back by the limits is not dry either: it waits for permits.)
      this.#setMode('claiming');
      this.#depth.observe(roundTripMs);
    }
    if (claim.claimed > 0) this.#o.linger?.activity.touch();
    if (claim.messages.length < claim.claimed) {
      this.#o.log.warn('claimed messages could not all be read back; they come back when their lease ends', {
        queue: this.#queue.name,
        claimed: claim.claimed,
        read: claim.messages.length,
      });
    }
    const followers = this.#queue.fifo ? this.#followers.take(claim.messages) : undefined;
    for (const message of claim.messages) this.#leases.keep(message);
    for (const message of claim.messages) {
      if (followers?.has(message.id)) continue;
      // Run already, its outcome's write given up: that outcome is written now, not a second run.
      if (this.#settler.resettle(message)) {
        this.#releaseFollower(message.id);
        this.#markEnded(message);
        continue;
      }
      this.#makeReady(message);
    }
  }

  /**
   * A claimed message may start, in its turn: unless it was claimed more often than it may be
   * tried (every earlier lease ended without an outcome: its drainer crashed or ran out of time),
   * so it must not run again. For a FIFO follower, checked when its head's outcome lets it start.
   */
  #makeReady(message: HeldClaimedMessage): void {
    if (message.attempts <= message.maxAttempts) {
      this.#ready.push(message);
      return;
    }
    this.#settler.dead({
      id: message.id,
      leaseToken: message.leaseToken,
      leaseUntilMs: message.leaseUntilMs,
      attempts: message.attempts,
      error: `attempts exhausted (${message.maxAttempts}): the lease of attempt ${message.attempts - 1} expired without an outcome`,
      written: this.#afterOutcomeWritten(message),
    });
    this.#markEnded(message);
  }

  #startReady(): void {
    this.#releaseLate();
    this.#gatherBatchHeads();
    if (this.#ready.size === 0 || this.#running >= this.#concurrency || this.#waitForStartTime()) return;
    let allowed = Math.min(this.#concurrency - this.#running, this.#ready.size);
    if (this.#bucket !== undefined) {
      allowed = this.#bucket.take(allowed);
      if (allowed === 0) {
        this.#wakeups.after('token', this.#bucket.msUntilNext());
        return;
      }
    }
    const nowMs = this.#o.clock.now().getTime();
    const remainingMs = this.#o.remainingTimeMs();
    let started = 0;
    // A late one waits for #releaseLate, which gives it back once no claim is out.
    while (started < allowed && this.#ready.size > 0 && !this.#waitForStartTime() && !this.#rateStarts.isLate(this.#ready.peek(), nowMs)) {
      const message = this.#ready.take();
      const jobType = this.#o.jobs.get(message.type);
      if (jobType !== undefined && isBatchType(jobType)) {
        // Started with its batch (#startBatches), in one of the slots counted there.
        this.#batches.add(message, jobType, nowMs);
        continue;
      }
      if (jobType === undefined) {
        // No handler here (not registered, or not a type the queue carries): dead at once, as
        // nothing would run; released for lack of a timeout to fit, it would come back forever.
        this.#settle(message, undefined, { kind: 'dead', error: clip(this.#o.jobs.missingType(message.type), ERROR_LIMIT) }, undefined);
        this.#markEnded(message);
        continue;
      }
      if (
        mayStart({
          nowMs,
          timeoutMs: jobType.timeoutMs ?? this.#o.tuning.defaultTimeoutMs,
          leaseUntilMs: message.leaseUntilMs,
          remainingMs,
          marginMs: this.#o.tuning.safetyMarginMs,
          keptAlive: this.#keptAlive,
        })
      ) {
        this.#start(message, jobType);
        started++;
      } else {
        this.#release(message);
      }
    }
  }

  /**
   * Ready messages of batch types at the head go to their batches before the single ones are
   * counted out: they take no handler slot and no rate-limit token of their own (#startBatches).
   */
  #gatherBatchHeads(): void {
    const nowMs = this.#o.clock.now().getTime();
    for (let head = this.#ready.peek(); head !== undefined; head = this.#ready.peek()) {
      const jobType = this.#o.jobs.get(head.type);
      if (jobType === undefined || !isBatchType(jobType) || this.#waitForStartTime() || this.#rateStarts.isLate(head, nowMs)) return;
      this.#batches.add(this.#ready.take(), jobType, nowMs);
    }
  }

  /** Under a queue-wide rate, gives back the ready messages too late for their permits (RateStarts). */
  #releaseLate(): void {
    // Not while a claim is out: it would find the queue short of what goes back, and stop as if dry.
    if (!this.#rateStarts.applies || this.#claimsInFlight > 0) return;
    const nowMs = this.#o.clock.now().getTime();
    while (this.#rateStarts.isLate(this.#ready.peek(), nowMs)) {
      const late = this.#ready.take();
      this.#rateStarts.lateReleaseSent();
      this.#settler.release({
        id: late.id,
        leaseToken: late.leaseToken,
        leaseUntilMs: late.leaseUntilMs,
        attempts: late.attempts,
        written: () => {
          this.#rateStarts.lateReleaseWritten();
          this.#wakeups.notify();
        },
      });
      this.#markEnded(late);
    }
    const lateInMs = this.#rateStarts.msUntilLate(this.#ready.peek(), nowMs);
    if (lateInMs !== undefined && this.#running >= this.#concurrency) this.#wakeups.after('late', lateInMs);
  }

  /**
   * Arms a timer and returns true when the next ready message must wait for its start time (a
   * queue-wide rate: claim.ts RATE_START_DELAY_MS). Claims land in permit order, so nothing
   * behind the head is due sooner.
   */
  #waitForStartTime(): boolean {
    const waitMs = this.#rateStarts.msUntilStart(this.#ready.peek(), this.#o.clock.now().getTime());
    if (waitMs <= 0) return false;
    this.#wakeups.after('start', waitMs);
    return true;
  }

  #start(message: HeldClaimedMessage, jobType: JobType): void {
    this.#running++;
    this.#dispatched++;
    // Not awaited: handlers run side by side. No rejection is left unhandled: dispatch's own
    // failure becomes an outcome (catch), and the bookkeeping after it does not throw.
    // The attempt's span (none without an OpenTelemetry SDK) is active while the handler runs.
    const span = startAttemptSpan(message);
    const control = this.#attempts.control(message);
    void withSpan(span, () =>
      dispatch(message, jobType, {
        timeoutMs: this.#o.tuning.defaultTimeoutMs,
        signal: this.#o.signal,
        progress: this.#progress,
        control,
      }),
    )
      .catch((error: unknown): Outcome => ({ kind: 'retry', error: `dispatch failed: ${describeError(error)}` }))
      .then((outcome) => {
        this.#attempts.ended(message.id);
        this.#running--;
        this.#settle(message, jobType, outcome, span);
        this.#markEnded(message);
        this.#wakeups.notify();
      });
  }

  /** Starts the gathered batches that are due, as handler slots allow (BatchGathering). */
  #startBatches(): void {
    if (this.#batches.size === 0) return;
    const nowMs = this.#o.clock.now().getTime();
    const remainingMs = this.#o.remainingTimeMs();
    const { batches, nextInMs } = this.#batches.due({
      nowMs,
      remainingMs,
      marginMs: this.#o.tuning.safetyMarginMs,
      defaultTimeoutMs: this.#o.tuning.defaultTimeoutMs,
      slots: this.#concurrency - this.#running,
      // Nothing more is coming soon: no claim is out, and the lane stops or could not send one
      // (the budget, the limits or the writes hold it back). Only a claim in flight, or a
      // lingering lane's polls, are worth a partial batch's wait.
      flush: this.#claimsInFlight === 0 && this.#mode !== 'lingering',
    });
    for (const batch of batches) this.#startBatch(batch.messages, batch.jobType, nowMs, remainingMs);
    if (nextInMs !== undefined) this.#wakeups.after('batch', nextInMs);
  }

  /** One handler for a batch: each message that may still start (mayStart) goes in, the others go back. */
  #startBatch(messages: HeldClaimedMessage[], jobType: BatchJobType, nowMs: number, remainingMs: number): void {
    const timeoutMs = jobType.timeoutMs ?? this.#o.tuning.defaultTimeoutMs;
    const starting = messages.filter((message) => {
      if (mayStart({ nowMs, timeoutMs, leaseUntilMs: message.leaseUntilMs, remainingMs, marginMs: this.#o.tuning.safetyMarginMs })) return true;
      this.#release(message);
      return false;
    });
    if (starting.length === 0) return;
    this.#running++;
    this.#dispatched += starting.length;
    // One span for the handler call, linked to each message's producer (lib/tracing.ts).
    const span = startBatchSpan(this.#queue.name, jobType.type, starting);
    void withSpan(span, () => dispatchBatch(starting, jobType, { timeoutMs: this.#o.tuning.defaultTimeoutMs, signal: this.#o.signal }))
      .catch(
        (error: unknown): BatchOutcomes =>
          new Map(starting.map((message) => [message.id, { kind: 'retry', error: `dispatch failed: ${describeError(error)}` }])),
      )
      .then((outcomes) => {
        this.#running--;
        const finals = starting.map((message) => {
          const final = this.#settle(message, jobType, outcomes.get(message.id) ?? { kind: 'retry', error: 'the batch gave it no outcome' }, undefined);
          this.#markEnded(message);
          return final;
        });
        endBatchSpan(span, finals);
        this.#wakeups.notify();
      });
  }

  /** Writes a message's outcome (through the settler) and answers it, attempts counted (finalOutcome). */
  #settle(message: HeldClaimedMessage, jobType: JobType | undefined, outcome: Outcome, span: Span | undefined): Outcome {
    const final = finalOutcome(outcome, message.attempts, message.maxAttempts);
    endAttemptSpan(span, final);
    this.#progress.end(message.id);
    if (final.kind === 'lost') {
      // Nothing to write under a lease that is gone; its FIFO follower (same lease) goes back, and
      // its group is told as if the outcome's write were given up.
      this.#releaseFollower(message.id);
      this.#afterOutcomeWritten(message)?.(false);
      return final;
    }
    if (final.kind === 'dead') this.#o.log.error('message dead-lettered', { ...messageLogKeys(message), error: final.error });
    else if (final.kind === 'retry') this.#o.log.warn('message attempt failed; it will be retried', { ...messageLogKeys(message), error: final.error });
    const held = { id: message.id, leaseToken: message.leaseToken, leaseUntilMs: message.leaseUntilMs, attempts: message.attempts };
    if (final.kind === 'done') {
      if (final.resultRefused !== undefined)
        this.#o.log.warn('handler result not stored; the message is done', { ...messageLogKeys(message), rule: final.resultRefused });
      this.#settler.done({ ...held, ...(final.result === undefined ? {} : { result: final.result }), written: this.#afterOutcomeWritten(message) });
    } else if (final.kind === 'cancelled') {
      this.#settler.cancel({ ...held, written: this.#afterOutcomeWritten(message) });
    } else if (final.kind === 'dead') {
      this.#settler.dead({ ...held, error: final.error, written: this.#afterOutcomeWritten(message) });
    } else {
      // A retrying head holds its group: its follower goes back, to run after it.
      this.#releaseFollower(message.id);
      const availableAt = nextAvailableAt(this.#o.clock.now(), message.attempts, this.#backoffs.policyFor(jobType), final.retryAfterMs, this.#o.random);
      this.#settler.retry({ ...held, availableAt, error: final.error, ...(this.#groups === undefined ? {} : { written: this.#afterOutcomeWritten(message) }) });
    }
    return final;
  }

  /**
   * What a FIFO message's outcome write calls (Settled.written): its follower, or its group's next,
   * may start. A grouped queue's: its group has room again, so a held-back lane claims now.
   */
  #afterOutcomeWritten(message: HeldClaimedMessage): ((landed: boolean) => void) | undefined {
    if (this.#groups !== undefined) {
      return () => {
        this.#groupThrottle.outcomeWritten();
        this.#wakeups.notify();
      };
    }
    if (!this.#queue.fifo) return undefined;
    return (landed) => {
      const follower = this.#followers.detach(message.id);
      switch (this.#fifoHeads.written(message, landed, follower !== undefined)) {
        case 'start-follower':
          this.#makeReady(follower!);
          break;
        case 'drop-follower':
          this.#markEnded(follower!);
          break;
        case 'claim-now':
          this.#pollSchedule?.pollNow();
          break;
      }
      this.#wakeups.notify();
    };
  }

  /** Gives back a head's follower without running it (the head will run again, or not at all here). */
  #releaseFollower(headId: string): void {
    const follower = this.#followers.detach(headId);
    if (follower !== undefined) this.#release(follower);
  }

  #release(message: HeldClaimedMessage): void {
    this.#settler.release({ id: message.id, leaseToken: message.leaseToken, leaseUntilMs: message.leaseUntilMs, attempts: message.attempts });
    this.#markEnded(message);
    this.#releaseFollower(message.id);
  }

  /** Whether the queue's capacity is taken and this lane holds some of it (promiseKeeping.ts). */
  #waitsOnOwnPermits(): boolean {
    return waitsOnOwnPermits({
      hasQueueWideLimits: this.#permits.limits !== undefined,
      hasRunPermits: this.#permits.limits?.run !== undefined,
      holdsPermits: this.#permits.holdsAny(this.#o.clock.now().getTime()),
      heldBack: this.#permits.heldBack,
      concurrency: this.#concurrency,
      queueConcurrency: this.#queue.concurrency,
      held: this.#unfinished(),
    });
  }

  /**
   * While the lane waits on its own permits, its promise to poll the queue is kept, renewed each
   * interval (a timer wakes the loop for it), as long as it could still run a message after the promise's end.
   */
  #keepPromise(): void {
    const linger = this.#o.linger;
    if (linger === undefined || this.#mode === 'stopping' || !this.#waitsOnOwnPermits()) return;
    const canRun = canRunAfterPromise({
      remainingMs: this.#o.remainingTimeMs(),
      intervalMs: linger.activity.intervalMs,
      leaseMs: this.#queue.leaseSeconds * 1_000,
      timeoutMs: this.#longestTimeoutMs,
      marginMs: this.#o.tuning.safetyMarginMs,
    });
    if (!canRun) return;
    linger.activity.touch();
    this.#wakeups.after('promise', Math.max(0, linger.activity.renewAtMs - this.#o.clock.now().getTime()));
  }

  /**
   * A claimed message's handler ended (or it will not run in this lease): under a queue-wide
   * concurrency, its claim's run permits go back when RunPermits says so.
   */
  #markEnded(message: HeldClaimedMessage): void {
    this.#leases.drop(message.id);
    const due = this.#permits.messageEnded(message.leaseToken);
    if (due === undefined) return;
    const { count, keep } = due;
    // Our own release makes room now: claim again without waiting out the poll.
    const release = releaseRunPermits(this.#o.db, { queue: this.#queue.name, leaseToken: message.leaseToken, keep, now: this.#o.clock.now() })
      .then(
        () => {
          this.#permits.runPermitsReturned();
        },
        (error: unknown) =>
          this.#o.log.warn('could not give back run permits; they free themselves when the lease ends', {
            queue: this.#queue.name,
            count,
            error: describeError(error),
          }),
      )
      .finally(() => {
        this.#permitReturns.delete(release);
        this.#wakeups.notify();
      });
    this.#permitReturns.add(release);
  }

  #releaseReady(): void {
    while (this.#ready.size > 0) this.#release(this.#ready.take());
    for (const message of this.#batches.takeAll()) this.#release(message);
  }
}
