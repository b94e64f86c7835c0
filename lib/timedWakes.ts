/**
 * Keeps one timed wake per queue pending for the earliest time a drain is needed (lib/wakeScheduler.ts):
 * a drain run sets it as it ends, an enqueue of a delayed message moves it earlier, and the run it
 * starts takes it off. The pending time is kept in queue_state.wake_at, so a wake is set (one
 * Scheduler call) only when it is earlier than the one pending, and a busy system makes no
 * Scheduler call per run.
 */
import type { Clock } from './clock.js';
import type { Db } from './db/types.js';
import { describeError } from './errors.js';
import { ensureQueueStates } from './sql/drainActivity.js';
import { claimWakeAt, readWakeAt, releaseWakeAt } from './sql/wakeAt.js';
import { SCHEDULER_PRECISION_MS, wakeTimeFor, type WakeScheduler } from './wakeScheduler.js';

export type TimedWakeResult = 'set' | 'pending' | 'failed';

export interface TimedWakesOptions {
  db: Db;
  clock: Clock;
  scheduler: WakeScheduler;
  log?: { warn(message: string, attributes: Record<string, unknown>): void };
}

/**
 * A pending wake whose time passed this long ago has fired (the Scheduler fires within its minute)
 * and its run, which takes it off, has failed: it no longer stands in a new one's way.
 */
const FIRED_AFTER_MS = SCHEDULER_PRECISION_MS + 30_000;

export class TimedWakes {
  readonly #o: TimedWakesOptions;
  /** Wakes this process knows are pending, by queue: an enqueue after one of them needs no call. */
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
   * woken run waits the rest out), or at `dueAt` with `lead: false`. Never throws: a wake that
   * fails is logged and counted, and the safety-net schedule drains the message, at most its
   * period late.
   */
  async ensure(queue: string, dueAt: Date, options: { lead?: boolean } = {}): Promise<TimedWakeResult> {
    const now = this.#o.clock.now();
    const at = wakeTimeFor(dueAt, now, options);
    const known = this.#pending.get(queue);
    if (known !== undefined && known > now.getTime() && known <= at.getTime()) return 'pending';
    try {
      if (!(await this.#claim(queue, at, now))) return 'pending';
    } catch (error) {
      return this.#failed(queue, at, error, false);
    }
    try {
      await this.#set(queue, at);
      this.#pending.set(queue, at.getTime());
      return 'set';
    } catch (error) {
      return this.#failed(queue, at, error, true);
    }
  }

  /** The run a wake started: the wake is off the queue, and a later one may be set. */
  async woken(queue: string, wakeAt: Date): Promise<void> {
    this.#pending.delete(queue);
    await releaseWakeAt(this.#o.db, { queue, at: wakeAt, now: this.#o.clock.now() }).catch((error: unknown) =>
      this.#o.log?.warn('could not take the fired wake off the queue; the next wake waits until it is stale', { queue, error: describeError(error) }),
    );
  }

  /**
   * The Scheduler call, then a look at what the row holds: a concurrent setter may have claimed an
   * earlier time and had its call land before ours (ours would then have replaced it). Such a time,
   * still to come, is sent again; any setter claiming after this read calls the Scheduler after us.
   * A call that timed out may have been applied: sent once more before it counts as failed.
   */
  async #set(queue: string, at: Date): Promise<void> {
    try {
      await this.#o.scheduler.setWake(queue, at);
    } catch (error) {
      if (!(error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))) throw error;
      await this.#o.scheduler.setWake(queue, at);
    }
    const stored = await readWakeAt(this.#o.db, queue);
    if (stored !== undefined && stored < at && stored.getTime() > this.#o.clock.now().getTime()) await this.#o.scheduler.setWake(queue, stored);
  }

  /** claimWakeAt, making the queue's row first if this process has not yet and the row was missing. */
  async #claim(queue: string, at: Date, now: Date): Promise<boolean> {
    const firedBefore = new Date(now.getTime() - FIRED_AFTER_MS);
    if (await claimWakeAt(this.#o.db, { queue, at, now, firedBefore })) return true;
    if (this.#rows.has(queue)) return false;
    this.#rows.add(queue);
    await ensureQueueStates(this.#o.db, [queue], now);
    return claimWakeAt(this.#o.db, { queue, at, now, firedBefore });
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
