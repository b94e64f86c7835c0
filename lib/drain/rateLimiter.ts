import type { Clock } from '../clock.js';

/**
 * A token bucket on the injected clock: `ratePerSecond` tokens a second, at most `burst` saved up.
 * Tokens are taken in bulk (`take(n)`), so a lane starts a wave of messages per check rather
 * than awaiting a timer per message.
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #clock: Clock;
  #tokens: number;
  #lastMs: number;

  constructor(options: { ratePerSecond: number; burst?: number; clock: Clock }) {
    if (!(options.ratePerSecond > 0 && Number.isFinite(options.ratePerSecond))) {
      throw new RangeError(`ratePerSecond must be a positive number, got ${options.ratePerSecond}`);
    }
    this.ratePerSecond = options.ratePerSecond;
    this.burst = options.burst ?? defaultBurst(options.ratePerSecond);
    this.#clock = options.clock;
    this.#tokens = this.burst;
    this.#lastMs = options.clock.now().getTime();
  }

  /** Takes up to `wanted` whole tokens that are available now; returns how many it took. */
  take(wanted: number): number {
    this.#refill();
    const taken = Math.max(0, Math.min(Math.floor(wanted), Math.floor(this.#tokens)));
    this.#tokens -= taken;
    return taken;
  }

  /** Milliseconds until the next whole token; 0 when one is available. */
  msUntilNext(): number {
    this.#refill();
    if (this.#tokens >= 1) return 0;
    return Math.ceil(((1 - this.#tokens) * 1_000) / this.ratePerSecond);
  }

  #refill(): void {
    const nowMs = this.#clock.now().getTime();
    // A clock set back (a test, an NTP step) adds nothing rather than taking tokens away.
    const elapsedMs = Math.max(0, nowMs - this.#lastMs);
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsedMs * this.ratePerSecond) / 1_000);
    this.#lastMs = nowMs;
  }
}

/**
 * A tenth of a second's worth, at least one: starts stay close to the rate over any one-second
 * window (at most rate + burst), and a lane wakes about ten times a second at most to take them.
 */
export function defaultBurst(ratePerSecond: number): number {
  return Math.max(1, Math.ceil(ratePerSecond / 10));
}
