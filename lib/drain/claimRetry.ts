import { DataApiUnavailableError } from '../db/errors.js';

/**
 * How long a lane waits before claiming again after claims that failed in a row because the Data
 * API did not answer, at most (each wait is jittered down to half, so lanes an outage failed
 * together do not come back in step); one more failure than there are waits stops the lane.
 */
export const CLAIM_RETRY_DELAYS_MS: readonly number[] = [500, 1_000, 2_000];

/**
 * When a lane claims again after a claim failed. Only a Data API that did not answer (a 5xx, a
 * network failure: lib/db has re-sent what it safely could) is worth another claim in this run;
 * without it, one such blip would leave the queue undrained until the next scheduled run. Another
 * claim is a new claim with its own lease token: whatever the failed one leased without its
 * answer (lib/drain/claim.ts reads that back when it can) waits out its lease. Any other failure
 * (SQL, the cluster still resuming after lib/db's own wait) stops the lane, as does the last.
 * Claims in flight together that one blip fails count as one failure. Pure: the lane claims and waits.
 */
export class ClaimRetry {
  readonly #random: () => number;
  #failures = 0;
  #waitUntilMs = 0;

  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** A claim failed at `nowMs`: true when the lane claims again (after msUntilClaim), false when it stops. */
  failed(error: unknown, nowMs: number): boolean {
    if (!(error instanceof DataApiUnavailableError)) return false;
    // Sent before the failure that set this wait: the same blip.
    if (nowMs < this.#waitUntilMs) return true;
    const ceilingMs = CLAIM_RETRY_DELAYS_MS[this.#failures];
    if (ceilingMs === undefined) return false;
    this.#failures++;
    this.#waitUntilMs = nowMs + Math.round(ceilingMs / 2 + (this.#random() * ceilingMs) / 2);
    return true;
  }

  /** A claim landed: the next failure waits the shortest time again. */
  landed(): void {
    this.#failures = 0;
    this.#waitUntilMs = 0;
  }

  /** How long from `nowMs` until the lane may claim again (none when not positive). */
  msUntilClaim(nowMs: number): number {
    return this.#waitUntilMs - nowMs;
  }
}
