import { RATE_WINDOW_SLACK_MS } from '../sql/permits.js';

/**
 * A claim late for its messages' start time keeps its rate permits taken a window from their
 * start (RateStarts.lateClaim), plus this much for that write's own round trip: half the claim's
 * round trips (one call where the claim made two or more), and at least this.
 */
export const RATE_VOUCH_MARGIN_MIN_MS = 100;

/** A message with a start time: under a queue-wide or group rate, its rate permit's (lib/drain/claim.ts). */
interface Timed {
  notBeforeMs?: number;
}

/** What keeps a late claim its rate permits: the one write's free-at time, and the start it vouches for. */
export interface Vouch {
  /** When the claim's queue-wide rate permits are free again (extendRatePermits' freeAt). */
  freeAt: Date;
  /** The messages' start time, should the write land by then. */
  startByMs: number;
}

/**
 * When messages start under a queue-wide rate, and which are too late to. A message starts at its
 * permit's time (notBeforeMs), give or take the permits' slack. One that waited longer in the run
 * (for a run slot, a per-run token) would start within a window of its permit's next use: it goes
 * back (its attempt given back), to be claimed again with a permit of its own time, here or by
 * another drain. A due message waiting for a slot is looked at again when it would be late. So is
 * one whose claim landed too late for its permits and could not keep them (lateClaim).
 *
 * It also knows until when the lane's rate permits are in use, and how many late messages are on
 * their way back. Pure: the lane writes, releases and arms the timers.
 */
export class RateStarts {
  readonly #rate: { windowMs: number } | undefined;
  /** A queue with per-group limits: its messages of rated groups carry a start time too. */
  readonly #groups: boolean;
  /** The rate permits this lane took are in use until then. */
  #permitsUntilMs = 0;
  /** Messages given back for being late for their rate permit's time, not yet written back. */
  #lateReleases = 0;

  /**
   * `rate`: the queue's rate permits, if it has a queue-wide rate; `groups`: whether it has
   * per-group limits (a group's rate, declared or set at runtime, times its messages the same way).
   */
  constructor(rate: { windowMs: number } | undefined, groups = false) {
    this.#rate = rate;
    this.#groups = groups;
  }

  /** Whether the queue has a queue-wide rate or per-group limits (nothing here applies otherwise). */
  get applies(): boolean {
    return this.#rate !== undefined || this.#groups;
  }

  /** Whether rate permits this lane took are still within their window at `nowMs`. */
  holdsPermits(nowMs: number): boolean {
    return this.#permitsUntilMs > nowMs;
  }

  /** A claim landing at `nowMs` took rate permits for `claimed` messages: in use a window from now. */
  took(claimed: number, nowMs: number): void {
    // (Or later: a late claim's are kept a window from their start, vouched.)
    if (this.#rate !== undefined && claimed > 0) this.#permitsUntilMs = Math.max(this.#permitsUntilMs, nowMs + this.#rate.windowMs);
  }

  /** How long from `nowMs` the next message waits for its start time (none when not positive). */
  msUntilStart(next: Timed | undefined, nowMs: number): number {
    const notBeforeMs = next?.notBeforeMs;
    return notBeforeMs === undefined ? 0 : notBeforeMs - nowMs;
  }

  /** Whether a message would start too late for its rate permits: past its start time and the slack. */
  isLate(message: Timed | undefined, nowMs: number): boolean {
    return this.applies && message?.notBeforeMs !== undefined && nowMs > message.notBeforeMs + RATE_WINDOW_SLACK_MS;
  }

  /** For a due message that is not late (one waiting for a slot): how long until it would be, when to look again. */
  msUntilLate(message: Timed | undefined, nowMs: number): number | undefined {
    const notBeforeMs = message?.notBeforeMs;
    if (notBeforeMs === undefined || notBeforeMs > nowMs) return undefined;
    return notBeforeMs + RATE_WINDOW_SLACK_MS + 1 - nowMs;
  }

  /** A late message goes back: claims wait until its release is written (a claim before would find it still held). */
  lateReleaseSent(): void {
    this.#lateReleases++;
  }

  lateReleaseWritten(): void {
    this.#lateReleases--;
  }

  /**
   * Whether messages late for their rate permits are on their way back, or the next ready one
   * waits to go back (it does once no claim is out): claim once they are, not to find the queue
   * dry without them.
   */
  lateGoingBack(next: Timed | undefined, nowMs: number): boolean {
    return this.#lateReleases > 0 || this.isLate(next, nowMs);
  }

  /**
   * A claim whose round trips outlasted its messages' start delay (a slow or retried call) would
   * start them late for their permits: a permit is free again a window after it was taken, and
   * its next use could start less than a window after these. Before they start, one write keeps
   * the claim's rate permits taken a window from `sentMs` plus a margin for the write's own round
   * trip, and the messages start once it lands, by then. Undefined for a claim in time (it costs
   * nothing more), or without a rate.
   */
  lateClaim(messages: readonly Timed[], sentMs: number, roundTripMs: number): Vouch | undefined {
    const notBeforeMs = messages.find((message) => message.notBeforeMs !== undefined)?.notBeforeMs;
    if (!this.applies || notBeforeMs === undefined) return undefined;
    if (sentMs <= notBeforeMs + RATE_WINDOW_SLACK_MS) return undefined;
    const marginMs = Math.max(RATE_VOUCH_MARGIN_MIN_MS, Math.ceil(roundTripMs / 2));
    // A group permit's window is its own (lib/sql/groupLimits.ts): the write takes the start time.
    return { freeAt: new Date(sentMs + marginMs + (this.#rate?.windowMs ?? 0)), startByMs: sentMs + marginMs };
  }

  /**
   * The write kept the claim's permits, landing at `nowMs`: its messages start now, or at the
   * vouched time if sooner; the permits are taken a window from it (and its slack) on. A write
   * that landed after that leaves them late, and they go back.
   */
  vouched(messages: readonly Timed[], vouch: Vouch, nowMs: number): void {
    const startMs = Math.min(nowMs, vouch.startByMs);
    for (const message of messages) if (message.notBeforeMs !== undefined) message.notBeforeMs = startMs;
    if (this.#rate !== undefined) this.#permitsUntilMs = Math.max(this.#permitsUntilMs, vouch.freeAt.getTime());
  }
}
