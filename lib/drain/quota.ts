/**
 * A run's maxMessages, split evenly among its lanes so a busy queue cannot take all of it before
 * the others claim. A lane that stops hands its unused part to a pool the others draw on.
 */
export class MessageQuota {
  #pool = 0;

  static split(max: number, lanes: number): QuotaShare[] {
    const quota = new MessageQuota();
    if (!Number.isFinite(max)) return Array.from({ length: lanes }, () => new QuotaShare(quota, Number.POSITIVE_INFINITY));
    const even = Math.floor(max / lanes);
    return Array.from({ length: lanes }, (_, i) => new QuotaShare(quota, even + (i < max - even * lanes ? 1 : 0)));
  }

  /** @internal */
  draw(wanted: number): number {
    const granted = Math.max(0, Math.min(wanted, this.#pool));
    this.#pool -= granted;
    return granted;
  }

  /** @internal */
  add(unused: number): void {
    this.#pool += unused;
  }
}

export class QuotaShare {
  constructor(
    private readonly quota: MessageQuota,
    private own: number,
  ) {}

  /** Reserves up to `wanted` from this lane's part, then from what stopped lanes left; returns how many. */
  reserve(wanted: number): number {
    const fromOwn = Math.max(0, Math.min(wanted, this.own));
    this.own -= fromOwn;
    return fromOwn + this.quota.draw(wanted - fromOwn);
  }

  giveBack(unused: number): void {
    this.own += unused;
  }

  /** The lane is done: its unused part goes to the others. */
  close(): void {
    if (Number.isFinite(this.own)) this.quota.add(this.own);
    this.own = 0;
  }
}
