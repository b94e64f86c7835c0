/** Run permits go back in up to this many writes per claim, as its handlers end. */
export const RUN_PERMIT_RELEASES_PER_CLAIM = 2;

/** A release the lane should write now: `count` permits go back, the claim keeps `keep`. */
export interface RunPermitRelease {
  count: number;
  /** Permits of handlers not yet ended: the release is by what stays taken, so safe to re-send. */
  keep: number;
}

interface ClaimPermits {
  open: number;
  ended: number;
  total: number;
}

/**
 * The run permits (a queue-wide concurrency's) this lane holds, by claim (lease token), and when
 * to give them back: in a few writes per claim as its handlers end, not one per message, and the
 * last one always. It only decides; the lane writes (lib/sql/permits.ts releaseRunPermits). A
 * permit never given back frees itself when its claim's lease ends.
 */
export class RunPermits {
  readonly #claims = new Map<string, ClaimPermits>();
  readonly #releasesPerClaim: number;

  constructor(releasesPerClaim = RUN_PERMIT_RELEASES_PER_CLAIM) {
    this.#releasesPerClaim = releasesPerClaim;
  }

  /** Whether any claim of this lane still holds run permits. */
  get holdsAny(): boolean {
    return this.#claims.size > 0;
  }

  /** A claim took `count` run permits, one per message it claimed. */
  took(leaseToken: string, count: number): void {
    if (count > 0) this.#claims.set(leaseToken, { open: count, ended: 0, total: count });
  }

  /**
   * One of the claim's messages ended (its handler, or it will not run in this lease): the release
   * to write now, or undefined while the claim's ended ones are still too few to be worth a write.
   */
  ended(leaseToken: string): RunPermitRelease | undefined {
    const permits = this.#claims.get(leaseToken);
    if (permits === undefined) return undefined;
    permits.open--;
    permits.ended++;
    if (permits.open > 0 && permits.ended < Math.ceil(permits.total / this.#releasesPerClaim)) return undefined;
    if (permits.open === 0) this.#claims.delete(leaseToken);
    const count = permits.ended;
    permits.ended = 0;
    return { count, keep: permits.open };
  }
}
