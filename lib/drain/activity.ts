import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import { extendDrainActivity } from '../sql/drainActivity.js';
import { describeError } from './dispatch.js';
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
    if (this.#writing !== undefined || this.#promisedUntilMs - nowMs >= this.intervalMs) return;
    const until = nowMs + 2 * this.intervalMs;
    // Counted as promised before the write: a write whose reply is lost may still have landed.
    this.#promisedUntilMs = until;
    this.#writing = extendDrainActivity(this.db, { queue: this.queue, until: new Date(until), now: new Date(nowMs) })
      .catch((error: unknown) => {
        // Enqueues then wake another drain, which costs an invoke, not a message.
        this.log.warn('could not record the drain as active', { queue: this.queue, error: describeError(error) });
      })
      .finally(() => {
        this.#writing = undefined;
      });
  }

  async close(): Promise<void> {
    await this.#writing;
  }
}
