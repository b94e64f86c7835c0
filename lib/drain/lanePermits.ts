import { groupLimitsOf, hasQueueWideLimits, type QueueConfig } from '../queues.js';
import { ratePermits, type PermitLimits } from '../sql/permits.js';
import { PermitWait } from './permitWait.js';
import { RateStarts } from './rateStarts.js';
import { RunPermits, type RunPermitRelease } from './runPermits.js';

/** What LanePermits needs of a landed claim (lib/drain/claim.ts Claim). */
interface LandedClaim {
  leaseToken: string;
  claimed: number;
  /** Permits the claim got, under queue-wide limits. */
  permitted?: number;
}

/**
 * The queue-wide permits (lib/sql/permits.ts) a lane holds and waits for: the queue's limits, the
 * run permits per claim (RunPermits), the rate's start times (RateStarts), and whether the last
 * claim was held back by the limits and when to ask again (PermitWait). Pure: the lane claims,
 * writes the give-backs and arms the timers.
 */
export class LanePermits {
  /** Queue-wide limits, when the queue has any: each claim takes permits first. */
  readonly limits: PermitLimits | undefined;
  /** Under a queue-wide rate: when messages start, which are late, until when its rate permits are in use. */
  readonly rateStarts: RateStarts;
  /** Run permits per claim (lease token), and when to give them back. */
  readonly #runPermits = new RunPermits();
  /** Held back by the queue-wide limits: when a claim may ask for permits again. */
  readonly #wait: PermitWait;
  #heldBack = false;
  #heldBackHoldingNone = false;

  constructor(queue: Pick<QueueConfig, 'ratePerSecond' | 'concurrency'> & Partial<Pick<QueueConfig, 'fifo' | 'groups'>>) {
    const { ratePerSecond, concurrency } = queue;
    this.limits = !hasQueueWideLimits(queue)
      ? undefined
      : {
          ...(ratePerSecond === undefined ? {} : { rate: ratePermits(ratePerSecond) }),
          ...(concurrency === undefined ? {} : { run: { slots: concurrency } }),
        };
    this.#wait = new PermitWait(this.limits?.rate);
    this.rateStarts = new RateStarts(this.limits?.rate, groupLimitsOf(queue) !== undefined);
  }

  /** Whether the last claim was held back by the limits (it got fewer permits than it asked for). */
  get heldBack(): boolean {
    return this.#heldBack;
  }

  /**
   * Whether the last claim was held back holding no permits of this lane's: then the queue's
   * capacity is other drains', which take what is due as theirs free, and this lane is as good as
   * idle (it neither promises to poll nor looks ahead).
   */
  get heldBackHoldingNone(): boolean {
    return this.#heldBackHoldingNone;
  }

  /** Whether this lane holds queue-wide permits: run permits of handlers not ended, rate permits within their window. */
  holdsAny(nowMs: number): boolean {
    return this.#runPermits.holdsAny || this.rateStarts.holdsPermits(nowMs);
  }

  /**
   * A claim that asked for `limit` messages landed at `nowMs` with the permits it took.
   * `onlyClaimOut`: no other claim of this lane is out (one may have taken the permits this one did not get).
   */
  claimLanded(claim: LandedClaim, limit: number, nowMs: number, onlyClaimOut: boolean): void {
    const heldBack = claim.permitted !== undefined && claim.permitted < limit;
    if (this.limits?.run !== undefined) this.#runPermits.took(claim.leaseToken, claim.claimed);
    this.rateStarts.took(claim.claimed, nowMs);
    this.#heldBack = heldBack;
    this.#heldBackHoldingNone = heldBack && !this.holdsAny(nowMs) && onlyClaimOut;
    // Held back holding none, the lane is idle: its lingering polls, not the permits' wait, pace it.
    if (this.#heldBackHoldingNone) this.#wait.clear();
    else if (heldBack) this.#wait.heldBack(nowMs, limit);
    else this.#wait.notHeldBack();
  }

  /** How long from `nowMs` until a claim may ask for permits again (none when not positive). */
  msUntilClaim(nowMs: number): number {
    return this.#wait.msLeft(nowMs);
  }

  /**
   * One of a claim's messages ended (its handler, or it will not run in this lease): the run
   * permits to give back now, if any (RunPermits.ended).
   */
  messageEnded(leaseToken: string): RunPermitRelease | undefined {
    return this.#runPermits.ended(leaseToken);
  }

  /** Run permits of this lane were given back: without a rate, claim without waiting. */
  runPermitsReturned(): void {
    if (this.limits?.rate === undefined) this.#wait.clear();
  }
}
