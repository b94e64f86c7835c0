/**
 * Keeps one timed wake per queue pending for the earliest time a drain is needed (lib/wakeScheduler.ts):
 * a drain run sets it as it ends, an enqueue of a delayed message moves it earlier. The pending
 * time is kept in queue_state.wake_at, so a wake is set (one Scheduler call) only when it is
 * earlier than the one pending, and a busy system makes no Scheduler call per run.
 */
import type { Clock } from './clock.js';
import type { Db } from './db/types.js';
import { describeError } from './errors.js';
import { ensureQueueStates } from './sql/drainActivity.js';
import { claimWakeAt, releaseWakeAt } from './sql/wakeAt.js';
import { wakeTimeFor, type WakeScheduler } from './wakeScheduler.js';

export type TimedWakeResult = 'set' | 'pending' | 'failed';

export interface TimedWakesOptions {
  db: Db;
  clock: Clock;
  scheduler: WakeScheduler;
  log?: { warn(message: string, attributes: Record<string, unknown>): void };
}

export class TimedWakes {
  readonly #o: TimedWakesOptions;
  /** Wakes this process knows are pending, by queue: an enqueue before one of them needs no call. */
  readonly #pending = new Map<string, number>();
  /** Queues whose queue_state row this process has made sure of. */
  readonly #rows = new Set<string>();
  /** Wakes that could not be set, since this process started (a metric). */
  failures = 0;

  constructor(options: TimedWakesOptions) {
    this.#o = options;
  }

  /**
   * Makes sure a drain starts for `queue` before `dueAt` (within the Scheduler's precision: the
   * woken run waits the rest out). Never throws: a wake that fails is logged and counted, and the
   * safety-net schedule drains the message, at most its period late.
   */
  async ensure(queue: string, dueAt: Date): Promise<TimedWakeResult> {
    const now = this.#o.clock.now();
    const at = wakeTimeFor(dueAt, now);
    const known = this.#pending.get(queue);
    if (known !== undefined && known > now.getTime() && known <= at.getTime()) return 'pending';
    try {
      if (!(await this.#claim(queue, at, now))) return 'pending';
    } catch (error) {
      return this.#failed(queue, at, error, false);
    }
    try {
      await this.#o.scheduler.setWake(queue, at);
      this.#pending.set(queue, at.getTime());
      return 'set';
    } catch (error) {
      return this.#failed(queue, at, error, true);
    }
  }

  /** claimWakeAt, making the queue's row first if this process has not yet and the row was missing. */
  async #claim(queue: string, at: Date, now: Date): Promise<boolean> {
    if (await claimWakeAt(this.#o.db, { queue, at, now })) return true;
    if (this.#rows.has(queue)) return false;
    this.#rows.add(queue);
    await ensureQueueStates(this.#o.db, [queue], now);
    return claimWakeAt(this.#o.db, { queue, at, now });
  }

  async #failed(queue: string, at: Date, error: unknown, claimed: boolean): Promise<'failed'> {
    this.failures++;
    this.#pending.delete(queue);
    this.#o.log?.warn('could not set a timed wake; the safety-net schedule drains the queue', {
      queue,
      wakeAt: at.toISOString(),
      error: describeError(error),
    });
    // Let the next run or enqueue try again, rather than trust a wake that was never set.
    if (claimed) await releaseWakeAt(this.#o.db, { queue, at, now: this.#o.clock.now() }).catch(() => {});
    return 'failed';
  }
}
