/**
 * What wakes a loop that sleeps until something changes (the lane's): a change notified by a
 * callback (a claim lands, a handler ends, a write ends, an abort), or a timer, at most one armed
 * per reason. A change notified while the loop's turn runs is not lost: the loop then goes round
 * again without sleeping.
 */
export class LoopWakeups<Reason extends string> {
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #timers = new Set<Reason>();
  #changed = false;
  #wake: (() => void) | undefined;

  constructor(sleep: (ms: number) => Promise<void>) {
    this.#sleep = sleep;
  }

  /** Whether something changed since the turn began. */
  get changed(): boolean {
    return this.#changed;
  }

  /** A turn of the loop begins: nothing has changed yet. */
  beginTurn(): void {
    this.#changed = false;
  }

  /** Resolves at the next change (ask `changed` first: one since the turn began does not resolve it). */
  nextChange(): Promise<void> {
    return new Promise<void>((resolve) => (this.#wake = resolve));
  }

  /** Something changed: the loop goes round again (at once, if it sleeps). */
  notify(): void {
    this.#changed = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Arms a timer that notifies in `ms`, unless one for this reason is armed already. */
  after(reason: Reason, ms: number): void {
    if (this.#timers.has(reason)) return;
    this.#timers.add(reason);
    void this.#sleep(ms).finally(() => {
      this.#timers.delete(reason);
      this.notify();
    });
  }
}
