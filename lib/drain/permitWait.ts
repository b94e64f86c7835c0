/**
 * How soon a lane held back by other drains' run permits asks again: after 100 ms, doubling to
 * every 800 ms while it stays held back. (Its own permits wake it as they are given back.)
 */
export const PERMIT_POLL_MIN_MS = 100;
export const PERMIT_POLL_MAX_MS = 800;

/**
 * When a lane held back by the queue-wide limits (a claim got fewer permits than it asked for)
 * may claim again: rate permits free a window after they were taken, so it waits for a share of
 * the window; run permits free as handlers end (its own give-backs clear the wait, other drains'
 * are polled for, backing off). Pure: the lane arms the timer.
 */
export class PermitWait {
  readonly #rate: { slots: number; windowMs: number } | undefined;
  #untilMs = 0;
  #pollMs = PERMIT_POLL_MIN_MS;

  /** `rate`: the queue's rate permits, if it has a queue-wide rate. */
  constructor(rate: { slots: number; windowMs: number } | undefined) {
    this.#rate = rate;
  }

  /** A claim at `nowMs` got fewer permits than the `wanted`: no claim until some could be free. */
  heldBack(nowMs: number, wanted: number): void {
    const rate = this.#rate;
    let waitMs = this.#pollMs;
    this.#pollMs = Math.min(PERMIT_POLL_MAX_MS, this.#pollMs * 2);
    if (rate !== undefined) {
      // Half the time the window takes to free as many permits as this claim wanted.
      const windowShare = (rate.windowMs * Math.min(wanted, rate.slots)) / rate.slots / 2;
      waitMs = Math.max(PERMIT_POLL_MIN_MS / 4, windowShare);
    }
    this.#untilMs = nowMs + waitMs;
  }

  /** A claim got every permit it asked for: the next time it is held back, it polls from the start. */
  notHeldBack(): void {
    this.#pollMs = PERMIT_POLL_MIN_MS;
  }

  /** Permits were freed (or their wait is paced otherwise): claim without waiting. */
  clear(): void {
    this.#untilMs = 0;
  }

  /** How long from `nowMs` until a claim may ask for permits again (none when not positive). */
  msLeft(nowMs: number): number {
    return this.#untilMs - nowMs;
  }
}
