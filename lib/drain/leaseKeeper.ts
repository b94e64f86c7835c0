import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import { describeError, LeaseLostError } from '../errors.js';
import { extendHeldLeases } from '../sql/extendHeldLeases.js';
import { extendRunPermits } from '../sql/extendRunPermits.js';
import { readHeldLeases } from '../sql/readHeldLeases.js';
import type { DrainLog } from './types.js';

/** A message the lane holds, with its lease end as the lane knows it (moved by every extension). */
export interface KeptLease {
  id: string;
  leaseToken: string;
  leaseUntilMs: number;
}

export interface LeaseKeeperOptions {
  db: Db;
  clock: Clock;
  queue: string;
  /** The queue's lease: what a beat extends every message to, from now. */
  leaseMs: number;
  /** The leases of these messages are gone (taken over, or run out without a beat landing): the lane stops their handlers. */
  onLost: (messages: readonly KeptLease[], reason: string) => void;
  log: DrainLog;
  /** The queue has a queue-wide concurrency: each beat also keeps the run permits of the claims it keeps (extendRunPermits). */
  runPermits?: boolean;
}

/** A failed beat is tried again this soon (or at the next beat, if sooner): the lease is running out. */
const BEAT_RETRY_MS = 1_000;

/**
 * Heartbeats of one lane: keeps the leases of every message the lane holds (waiting to start,
 * running, following a FIFO head) from running out, so a queue's lease can stay short (a crashed
 * drain's messages come back within one lease) while its handlers run for minutes.
 *
 * A beat is due once the oldest lease has had a third of its time: it extends every held
 * message, in one statement (extendHeldLeases), to a whole lease from now, so the lane's leases
 * stay aligned and each beat is one call however many messages it holds. A third: a beat that
 * fails (an outage) is tried again while a third of the lease is still left, and a handler that
 * ends just before a beat still has two thirds of the lease to settle in (heartbeatLeaseMs). A
 * lane whose messages end within a third of the lease (most) never beats: no call.
 *
 * When a beat matches fewer rows than it sent, readHeldLeases says which leases are gone, and
 * only those are reported lost. On a queue with a queue-wide concurrency a beat is two statements:
 * the claims' run permits are kept too (extendRunPermits). A lease whose end passes without a beat landing is lost too: the
 * message may be claimed by another drain from then on.
 */
export class LeaseKeeper {
  readonly #o: LeaseKeeperOptions;
  readonly #held = new Map<string, KeptLease>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #beat: Promise<void> | undefined;
  /** After a failed beat: not before this time again. */
  #retryAtMs = 0;
  #closed = false;
  /** Beats sent: what the tests and the cost figures count. */
  beats = 0;

  constructor(options: LeaseKeeperOptions) {
    this.#o = options;
  }

  /** The beat period: a third of the lease. */
  get beatEveryMs(): number {
    return this.#o.leaseMs / 3;
  }

  /** Keeps this message's lease from now on, until dropped. */
  keep(message: KeptLease): void {
    this.#held.set(message.id, message);
    this.#schedule();
  }

  /** The message ended (its outcome goes to the settler, or it goes back): its lease is kept no more. */
  drop(id: string): void {
    this.#held.delete(id);
    if (this.#held.size === 0) this.#clearTimer();
  }

  /**
   * context.extendLease: extends this one message's lease to at least `ms` from now, at once, in
   * its own call. Resolves once written; rejects with the reason when the lease is gone (and
   * reports it lost).
   */
  async extend(message: KeptLease, ms: number): Promise<void> {
    const leaseUntilMs = this.#o.clock.now().getTime() + ms;
    const lost = await this.#extend([message], leaseUntilMs);
    if (lost.length > 0) {
      const reason = `lease of message ${message.id} lost: it was taken over before the extension landed`;
      this.#o.onLost(lost, reason);
      throw new LeaseLostError(reason);
    }
  }

  /** Stops beating; waits for a beat in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#clearTimer();
    await this.#beat;
  }

  #clearTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Arms the timer for the next beat: when the oldest lease has a third of its time behind it. */
  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#beat !== undefined || this.#held.size === 0) return;
    let earliestMs = Infinity;
    for (const message of this.#held.values()) earliestMs = Math.min(earliestMs, message.leaseUntilMs);
    const nowMs = this.#o.clock.now().getTime();
    const dueMs = Math.max(earliestMs - (this.#o.leaseMs - this.beatEveryMs), this.#retryAtMs);
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#beatNow();
      },
      Math.max(0, dueMs - nowMs),
    );
  }

  #beatNow(): void {
    if (this.#closed || this.#held.size === 0) return;
    const nowMs = this.#o.clock.now().getTime();
    // Run out without a beat landing (an outage): another drain may claim them from now on.
    const expired = [...this.#held.values()].filter((message) => message.leaseUntilMs <= nowMs);
    if (expired.length > 0) {
      for (const message of expired) this.#held.delete(message.id);
      this.#o.onLost(expired, 'lease ran out: heartbeats could not be written in time');
    }
    const held = [...this.#held.values()];
    if (held.length === 0) return;
    this.beats++;
    this.#beat = this.#extend(held, nowMs + this.#o.leaseMs)
      .then(
        (lost) => {
          this.#retryAtMs = 0;
          if (lost.length === 0) return;
          for (const message of lost) this.#held.delete(message.id);
          this.#o.onLost(lost, 'lease lost: the message was taken over by another drain (its lease had run out)');
        },
        (error: unknown) => {
          this.#retryAtMs = this.#o.clock.now().getTime() + Math.min(BEAT_RETRY_MS, this.beatEveryMs);
          this.#o.log.warn('heartbeat failed; tried again while the leases last', { queue: this.#o.queue, messages: held.length, error: describeError(error) });
        },
      )
      .finally(() => {
        this.#beat = undefined;
        this.#schedule();
      });
  }

  /** Extends these leases to `leaseUntilMs`; answers the ones found gone. A failed call throws. */
  async #extend(messages: readonly KeptLease[], leaseUntilMs: number): Promise<KeptLease[]> {
    const matched = await extendHeldLeases(this.#o.db, { held: messages, leaseUntil: new Date(leaseUntilMs) });
    // Short of what was sent: which are really gone (a re-sent call may count its rows as unchanged).
    const still = matched < messages.length ? await readHeldLeases(this.#o.db, messages) : undefined;
    const lost: KeptLease[] = [];
    const kept: KeptLease[] = [];
    for (const message of messages) (still !== undefined && !still.has(message.id) ? lost : kept).push(message);
    // The claims' run permits last as long as their messages' leases, or another drain could start one more.
    if (this.#o.runPermits === true && kept.length > 0) {
      await extendRunPermits(this.#o.db, { queue: this.#o.queue, leaseTokens: kept.map((m) => m.leaseToken), freeAt: new Date(leaseUntilMs) });
    }
    for (const message of kept) message.leaseUntilMs = Math.max(message.leaseUntilMs, leaseUntilMs);
    return lost;
  }
}
