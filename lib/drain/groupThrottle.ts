/** How soon a grouped lane held back by its groups' limits claims again, at first and at the latest. */
export const GROUP_THROTTLE_MIN_MS = 50;
export const GROUP_THROTTLE_MAX_MS = 1_000;

/**
 * A lane held back that took messages, or started, this recently keeps claiming (its groups'
 * rate windows free again within about a second) rather than lingering as an idle lane would. A
 * run's start counts: the capacity holding it back may be runs' that have ended (their rate
 * windows), or claims that started beside it and took nothing either, so no other run may be
 * left to claim what waits.
 */
export const GROUP_RECENT_TAKE_MS = 2_000;

/**
 * When a lane of a queue with per-group limits claims again after its groups' limits held a
 * claim back (Claim.throttled): the due messages are waiting for their groups' capacity, so the
 * queue is not dry. The lane claims again as soon as one of its own outcomes is written (its group
 * has room again) or after a backoff that doubles from 50 ms to 1 s (another drain's outcome, a
 * rate window passing). A claim that was not held back clears it. Pure: the lane claims and waits.
 */
export class GroupThrottle {
  #waitUntilMs = 0;
  #backoffMs = GROUP_THROTTLE_MIN_MS;
  #heldBack = false;
  #lastActiveMs: number;

  constructor(startedAtMs: number) {
    this.#lastActiveMs = startedAtMs;
  }

  /** Whether the last claim was held back by the groups' limits. */
  get heldBack(): boolean {
    return this.#heldBack;
  }

  /** How long from `nowMs` until the lane may claim again (none when not positive). */
  msUntilClaim(nowMs: number): number {
    return this.#waitUntilMs - nowMs;
  }

  /** Whether the lane took messages, or started, within GROUP_RECENT_TAKE_MS of `nowMs`. */
  activeRecently(nowMs: number): boolean {
    return nowMs - this.#lastActiveMs <= GROUP_RECENT_TAKE_MS;
  }

  /** A claim landed at `nowMs` with `claimed` messages: held back by the groups' limits (`throttled`) or not. */
  claimLanded(throttled: boolean, claimed: number, nowMs: number): void {
    this.#heldBack = throttled;
    if (claimed > 0) this.#lastActiveMs = nowMs;
    if (!throttled) {
      this.#waitUntilMs = 0;
      this.#backoffMs = GROUP_THROTTLE_MIN_MS;
      return;
    }
    this.#waitUntilMs = nowMs + this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, GROUP_THROTTLE_MAX_MS);
  }

  /** One of the lane's outcomes is written: its group may take another message now. */
  outcomeWritten(): void {
    this.#waitUntilMs = 0;
    this.#backoffMs = GROUP_THROTTLE_MIN_MS;
  }
}
