import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import { extendDrainActivity, withdrawDrainActivity } from '../sql/drainActivity.js';
import { describeError } from '../errors.js';
import type { DrainLog } from './types.js';

/**
 * A lingering lane's promise, kept in queue_state, to poll its queue until a moment ahead: while
 * the promise reaches at least `intervalMs` ahead, an enqueue does not wake another drain (see
 * lib/wake.ts). The lane keeps polling until the promise has passed, so a message whose enqueue
 * saw the promise is claimed by this lane.
 */
export class DrainActivity {
  #promisedUntilMs = 0;
  #writing: Promise<void> | undefined;
  #withdrawn = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly queue: string,
    /** The promise reaches at least this far ahead while the lane is active (WAKE_INTERVAL_MS). */
    readonly intervalMs: number,
    private readonly log: DrainLog,
  ) {}

  /** The moment the lane must poll until, as far as anyone may have read it. */
  get promisedUntilMs(): number {
    return this.#promisedUntilMs;
  }

  /** When the promise must be renewed (touch) to keep reaching an interval ahead. */
  get renewAtMs(): number {
    return this.#promisedUntilMs - this.intervalMs;
  }

  /** Keeps the promise at least one interval ahead: one write per interval while the lane is active. */
  touch(): void {
    const nowMs = this.clock.now().getTime();
    if (this.#withdrawn || this.#writing !== undefined || this.renewAtMs >= nowMs) return;
    const until = nowMs + 2 * this.intervalMs;
    // Counted as promised before the write: a write whose reply is lost may still have landed.
    this.#promisedUntilMs = until;
    // On failure, enqueues wake another drain, which costs an invoke, not a message.
    this.#write('could not record the drain as active', () =>
      extendDrainActivity(this.db, { queue: this.queue, until: new Date(until), now: new Date(nowMs) }),
    );
  }

  /**
   * The lane will poll no more: its promise, if it still stands, is taken back (after any write of
   * it in flight), unless another lane has since promised further. No more promises after this.
   */
  withdraw(): void {
    if (this.#withdrawn) return;
    this.#withdrawn = true;
    const until = this.#promisedUntilMs;
    if (until <= this.clock.now().getTime()) return;
    // On failure, enqueues skip waking until the promise passes: the schedule drains them.
    this.#write("could not withdraw the drain's promise to poll", () =>
      withdrawDrainActivity(this.db, { queue: this.queue, until: new Date(until), now: this.clock.now() }),
    );
  }

  async close(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  /** Writes one after another, never two at once; failures are logged, never thrown. */
  #write(failure: string, write: () => Promise<unknown>): void {
    const previous = this.#writing;
    const writing: Promise<void> = (async () => {
      await previous;
      await write();
    })()
      .catch((error: unknown) => this.log.warn(failure, { queue: this.queue, error: describeError(error) }))
      .finally(() => {
        if (this.#writing === writing) this.#writing = undefined;
      });
    this.#writing = writing;
  }
}
