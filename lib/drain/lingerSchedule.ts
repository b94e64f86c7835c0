/** What a lingering lane does at its turn to claim (LingerSchedule.turn). */
export type LingerTurn =
  /** Not yet: the next poll is due in `msUntilPoll`. */
  | 'wait'
  /** Claim now, and renew the promise to poll (the lane is within its idle spell). */
  | 'poll-and-promise'
  /** Claim now, promising nothing (idle long enough, or the queue's capacity is other runs'). */
  | 'poll'
  /** Idle long enough: look for messages coming due within the run before stopping (once per spell). */
  | 'look-ahead'
  /**
   * Idle long enough, but the lane still holds messages: until their outcomes are written, their
   * leases' ends read as messages coming due. The look-ahead waits for the lane's next outcome.
   */
  | 'settle-first'
  /** Idle long enough, polled past the promise, nothing to look ahead for: the lane stops. */
  | 'stop';

/** What a lingering lane's turn depends on besides the time (LingerSchedule.turn). */
export interface LaneAtTurn {
  /** The end of the lane's promise to poll (lib/drain/activity.ts). */
  promisedUntilMs: number;
  /** Nothing the lane holds may still bring work (a FIFO lane's outcomes may). */
  mayEnd: boolean;
  /**
   * Held back by other runs' permits holding none, so what comes due is theirs to take (no look
   * ahead) and an enqueue is not this lane's to take (no promise).
   */
  capacityIsOthers: boolean;
  /** The lane holds no message whose outcome is not written yet. */
  settled: boolean;
}

/**
 * When a lingering lane polls its dry queue and when it gives up: polls back off from `pollMinMs`
 * to `pollMaxMs` for an idle spell of `idleMs`, and the lane stops only once a poll began after its
 * promise to poll ended (lib/drain/activity.ts). Pure: the lane claims, arms timers and stops.
 */
export class LingerSchedule {
  readonly #idleMs: number;
  readonly #pollMinMs: number;
  readonly #pollMaxMs: number;
  readonly #heldBackPollMaxMs: number;
  #idleSinceMs = 0;
  #pollDelayMs = 0;
  #nextPollAtMs = 0;
  #lastPollAtMs = 0;
  /** Whether this idle spell already looked for messages coming due within the run. */
  #lookedAhead = false;

  /**
   * `heldBackPollMaxMs`: the longest interval while the queue's capacity is other runs' (they take
   * what comes due, so a quick poll would only cost calls); `pollMaxMs` otherwise.
   */
  constructor(linger: { idleMs: number; pollMinMs: number; pollMaxMs: number; heldBackPollMaxMs?: number }) {
    this.#idleMs = linger.idleMs;
    this.#pollMinMs = linger.pollMinMs;
    this.#pollMaxMs = linger.pollMaxMs;
    this.#heldBackPollMaxMs = linger.heldBackPollMaxMs ?? linger.pollMaxMs;
  }

  /** An idle spell starts (again): the queue ran dry at `nowMs`; polls start at the shortest interval. */
  startIdle(nowMs: number): void {
    this.#idleSinceMs = nowMs;
    this.#pollDelayMs = this.#pollMinMs;
    this.#lookedAhead = false;
  }

  /** A message comes due at `dueMs`: idle again from then on, and the poll at that moment claims it. */
  idleFrom(dueMs: number): void {
    this.#nextPollAtMs = dueMs;
    this.startIdle(dueMs);
  }

  /** Something may have come due now (an outcome let a FIFO group's next message lead): poll at once. */
  pollNow(): void {
    this.#nextPollAtMs = 0;
  }

  /** How long until the next poll is due, from `nowMs` (for a 'wait'). */
  msUntilPoll(nowMs: number): number {
    return this.#nextPollAtMs - nowMs;
  }

  /** The lane's turn to claim at `nowMs`, a poll counted as begun when the answer is one. */
  turn(nowMs: number, lane: LaneAtTurn): LingerTurn {
    const { capacityIsOthers } = lane;
    const idleEnough = nowMs - this.#idleSinceMs >= this.#idleMs;
    // Done as soon as both hold, not at the next poll: idle long enough, and polled after the promise.
    if (idleEnough && this.#lastPollAtMs >= lane.promisedUntilMs && lane.mayEnd) {
      if (!this.#lookedAhead && !capacityIsOthers) {
        // Else the lane's own leases would read as due, and it would linger until they end.
        if (!lane.settled) return 'settle-first';
        this.#lookedAhead = true;
        return 'look-ahead';
      }
      return 'stop';
    }
    if (nowMs < this.#nextPollAtMs) return 'wait';
    this.#lastPollAtMs = nowMs;
    this.#nextPollAtMs = nowMs + this.#pollDelayMs;
    this.#pollDelayMs = Math.min(capacityIsOthers ? this.#heldBackPollMaxMs : this.#pollMaxMs, this.#pollDelayMs * 2);
    return !idleEnough && !capacityIsOthers ? 'poll-and-promise' : 'poll';
  }
}
