/**
 * How many claims a lane keeps in flight. Pipelining hides round trips (each costs ~20 ms from
 * Lambda to the Data API), but claims on one queue also contend in the database (SKIP LOCKED has
 * to step over every row another claim holds), so when several drain runs overlap, more claims in
 * flight only make each one slower. The depth therefore follows the claims' round trips against the
 * fastest one seen, as a gradient limiter does (Netflix's concurrency-limits): while round trips
 * stay within `tolerance` × the fastest, the depth grows by one per full claim, up to `max`; past
 * that, it shrinks in proportion to how much slower they have become, never below one.
 */
export class ClaimDepth {
  readonly #max: number;
  readonly #tolerance: number;
  #limit = 1;
  #fastestMs = Number.POSITIVE_INFINITY;

  constructor(max: number, tolerance = 2) {
    this.#max = Math.max(1, max);
    this.#tolerance = tolerance;
  }

  /** Claims that may be in flight now. */
  get limit(): number {
    return Math.floor(this.#limit);
  }

  /** A claim came back full after `roundTripMs`. */
  observe(roundTripMs: number): void {
    const ms = Math.max(roundTripMs, 1);
    this.#fastestMs = Math.min(this.#fastestMs, ms);
    const gradient = Math.min(1, (this.#tolerance * this.#fastestMs) / ms);
    this.#limit = Math.min(this.#max, Math.max(1, this.#limit * gradient + 1));
  }
}
