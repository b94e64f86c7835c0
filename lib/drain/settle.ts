import { backoffDelayMs, type BackoffPolicy } from '../backoff.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import { cancelHeld } from '../sql/cancelHeld.js';
import { markHeldDone } from '../sql/markHeldDone.js';
import { deadLetterHeld, type HeldDeadLetter } from '../sql/deadLetterHeld.js';
import type { HeldMessage } from '../sql/heldMessage.js';
import { releaseHeld, type HeldRelease } from '../sql/releaseHeld.js';
import { rescheduleHeld, type HeldRetry } from '../sql/rescheduleHeld.js';
import { storeHeldResults, type HeldResult } from '../sql/storeHeldResults.js';
import { inSpan } from '../tracing.js';

/** Rows the settle writes changed, by outcome. */
export interface SettleCounts {
  done: number;
  retried: number;
  dead: number;
  /** Running messages whose cancel was requested, stopped and settled `cancelled`. */
  cancelled: number;
  /** Claimed but never dispatched (no time left, or aborted): given back with their attempt. */
  released: number;
  /** Outcomes whose write changed nothing: the lease had expired (and the message was claimed again). */
  lostLeases: number;
  /**
   * Outcomes given up: their writes kept failing until shortly before their leases ended (or the
   * run had to stop), so the messages come back when their lease ends.
   */
  unsettled: number;
}

/** A row to write, with when its lease ends: its write is retried until shortly before then. */
export type Settled<T extends HeldMessage> = T & {
  leaseUntilMs: number;
  /** Called once the outcome is written (true) or given up (false): a FIFO follower waits for it. */
  written?: (landed: boolean) => void;
};

export interface SettlerOptions {
  /** Most rows in one call. */
  flushSize: number;
  /** How long the first outcome of a call waits for others to join it. */
  lingerMs: number;
  /** An outcome whose write keeps failing is given up this long before its lease ends. */
  giveUpBeforeLeaseEndMs: number;
  /** Whether the run may still make calls; what is not written once it may not is given up. */
  hasTime: () => boolean;
  /** Waits between attempts of a failed write, with full jitter. */
  retryBackoff?: BackoffPolicy;
  random?: () => number;
  /** Called after every write, so a waiting lane can look again. */
  onWrite?: () => void;
  /** A write failed; its rows are tried again, in the next call of their kind. */
  onError?: (what: string, rows: number, error: unknown) => void;
  /** Rows whose writes were given up. */
  onGiveUp?: (what: string, rows: number) => void;
  onLostLeases?: (what: string, lost: number) => void;
}

/**
 * Retries of a failed settle start fast and level off at a few seconds: an outage (a failover, a
 * resume from auto-pause) lasts seconds to tens of seconds, and every outcome written after it
 * is a delivery that does not happen again.
 */
export const DEFAULT_SETTLE_RETRY_BACKOFF: BackoffPolicy = { baseMs: 250, factor: 2, maxMs: 4_000 };

export const DEFAULT_SETTLE_FLUSH_SIZE = 500;
export const DEFAULT_SETTLE_LINGER_MS = 100;

/* Bytes of error and result text one call may carry: the request limit is 4 MiB, and a call this big is slow anyway. */
const MAX_ERROR_BYTES_PER_CALL = 1024 * 1024;

type Write<T> = (db: Db, rows: T[], now: Date) => Promise<number>;

/** A success, with what its handler returned as JSON text when it returned something. */
export type HeldDone = HeldMessage & { result?: string };

/**
 * The successes of one call: their results first, in one more statement only when some message
 * has one, then the mark done. In that order, a message is never seen done without its result;
 * a result whose mark then loses its lease stays hidden (storeHeldResults), and a retry of the
 * pair after a failure matches its own rows again. Counts what the mark changed.
 */
export async function markDoneWithResults(db: Db, held: readonly HeldDone[], now: Date): Promise<number> {
  const results = held.filter((h): h is HeldResult => h.result !== undefined);
  if (results.length > 0) await storeHeldResults(db, { held: results, now });
  return markHeldDone(db, { held, now });
}

/**
 * Gathers the outcomes of a lane's batches and writes each kind in one call for many messages
 * (group commit): the first outcome waits up to `lingerMs` for others, a full call goes at once,
 * and at most one call of each kind is in flight, so outcomes that arrive meanwhile ride on the
 * next. Every row carries its own lease token, so outcomes of different claims share a call and
 * each still proves its claim is held. Outcomes are never lost to a failed write: the messages
 * stay leased and come back once their lease ends.
 */
export class Settler {
  readonly counts: SettleCounts = { done: 0, retried: 0, dead: 0, cancelled: 0, released: 0, lostLeases: 0, unsettled: 0 };
  readonly #acks: Channel<HeldDone>;
  readonly #retries: Channel<HeldRetry>;
  readonly #deadLetters: Channel<HeldDeadLetter>;
  readonly #releases: Channel<HeldRelease>;
  readonly #cancels: Channel<HeldMessage>;
  readonly #channels: readonly { readonly unwritten: number; close(): Promise<void> }[];
  /**
   * Outcomes given up, by message id: a claim of the same run that gets one back writes it, under
   * its own lease, instead of running the message again. Each entry adds the row to its channel.
   */
  readonly #givenUp = new Map<string, (lease: { leaseToken: string; leaseUntilMs: number }) => void>();

  constructor(db: Db, clock: Clock, options: SettlerOptions) {
    const channel = <T extends HeldMessage>(what: string, write: Write<T>, counted: (changed: number) => void) =>
      new Channel<T>(
        db,
        clock,
        options,
        what,
        write,
        (sent, changed) => {
          counted(changed);
          if (changed < sent) {
            this.counts.lostLeases += sent - changed;
            options.onLostLeases?.(what, sent - changed);
          }
        },
        (rows, ch) => {
          this.counts.unsettled += rows.length;
          for (const row of rows) this.#givenUp.set(row.id, (lease) => ch.add({ ...row, ...lease }));
          options.onGiveUp?.(what, rows.length);
        },
      );
    this.#acks = channel(
      'ack',
      (d, held, now) => markDoneWithResults(d, held, now),
      (n) => (this.counts.done += n),
    );
    this.#retries = channel(
      'reschedule',
      (d, retries, now) => rescheduleHeld(d, { retries, now }),
      (n) => (this.counts.retried += n),
    );
    this.#deadLetters = channel(
      'dead-letter',
      (d, dead, now) => deadLetterHeld(d, { dead, now }),
      (n) => (this.counts.dead += n),
    );
    this.#releases = channel(
      'release',
      (d, held, now) => releaseHeld(d, { held, now }),
      (n) => (this.counts.released += n),
    );
    this.#cancels = channel(
      'cancel',
      (d, held, now) => cancelHeld(d, { held, now }),
      (n) => (this.counts.cancelled += n),
    );
    this.#channels = [this.#acks, this.#retries, this.#deadLetters, this.#releases, this.#cancels];
  }

  done(message: Settled<HeldDone>): void {
    this.#acks.add(message);
  }

  retry(retry: Settled<HeldRetry>): void {
    this.#retries.add(retry);
  }

  dead(deadLetter: Settled<HeldDeadLetter>): void {
    this.#deadLetters.add(deadLetter);
  }

  release(message: Settled<HeldRelease>): void {
    this.#releases.add(message);
  }

  /** A running message stopped because its cancel was requested: settled `cancelled`. */
  cancel(message: Settled<HeldMessage>): void {
    this.#cancels.add(message);
  }

  /**
   * A message claimed again whose outcome this run already has but gave up writing: writes that
   * outcome under the new lease instead of running the message a second time. False when there
   * is none.
   */
  resettle(message: Settled<HeldMessage>): boolean {
    const given = this.#givenUp.get(message.id);
    if (given === undefined) return false;
    this.#givenUp.delete(message.id);
    this.counts.unsettled--;
    given({ leaseToken: message.leaseToken, leaseUntilMs: message.leaseUntilMs });
    return true;
  }

  /** Outcomes not yet written, in flight included. */
  get unsettled(): number {
    let rows = 0;
    for (const channel of this.#channels) rows += channel.unwritten;
    return rows;
  }

  /** Writes everything gathered, without lingering, and waits for every call to end. */
  async close(): Promise<void> {
    await Promise.all(this.#channels.map((channel) => channel.close()));
  }
}

class Channel<T extends HeldMessage> {
  readonly #pending: Settled<T>[] = [];
  #inFlight: Promise<void> | undefined;
  #inFlightRows = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing = false;
  /** Failed writes in a row; the next call waits for the backoff of this many. */
  #failures = 0;
  #retryAtMs = 0;
  #idle: (() => void) | undefined;
  /** Rows whose write has failed at least once: only these can be given up. */
  readonly #failed = new WeakSet<Settled<T>>();

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly options: SettlerOptions,
    private readonly what: string,
    private readonly write: Write<T>,
    private readonly onWritten: (sent: number, changed: number) => void,
    private readonly onGivenUp: (rows: Settled<T>[], channel: Channel<T>) => void,
  ) {}

  get unwritten(): number {
    return this.#pending.length + this.#inFlightRows;
  }

  add(row: Settled<T>): void {
    this.#pending.push(row);
    this.#schedule();
  }

  /** Writes what is gathered without lingering, retrying failures while leases and the run allow; resolves when nothing is left. */
  close(): Promise<void> {
    this.#closing = true;
    this.#schedule();
    if (this.#inFlight === undefined && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#idle = resolve));
  }

  #schedule(): void {
    // The call in flight schedules the next when it ends, with what gathered meanwhile.
    if (this.#inFlight || this.#pending.length === 0) return this.#checkIdle();
    // No failed write to back off from (the common case): no clock read per outcome.
    const waitMs = this.#retryAtMs === 0 ? 0 : this.#retryAtMs - this.clock.now().getTime();
    if (waitMs > 0) {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, waitMs);
    } else if (this.#closing || this.#pending.length >= this.options.flushSize) {
      this.#flush();
    } else {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, this.options.lingerMs);
    }
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#inFlight || this.#pending.length === 0) return this.#checkIdle();
    this.#giveUpLateRows();
    if (this.#pending.length === 0) return this.#checkIdle();
    const rows = this.#pending.splice(0, this.#callSize());
    this.#inFlightRows = rows.length;
    this.#inFlight = inSpan(`settle ${this.what}`, { 'messaging.batch.message_count': rows.length }, () => this.write(this.db, rows, this.clock.now()))
      .then(
        (changed) => {
          this.#failures = 0;
          this.#retryAtMs = 0;
          this.onWritten(rows.length, changed);
          for (const row of rows) row.written?.(true);
        },
        (error: unknown) => {
          // Back to the front, to go in the next call of this kind once the backoff has passed.
          for (const row of rows) this.#failed.add(row);
          this.#pending.unshift(...rows);
          this.#failures++;
          this.#retryAtMs =
            this.clock.now().getTime() + backoffDelayMs(this.#failures, this.options.retryBackoff ?? DEFAULT_SETTLE_RETRY_BACKOFF, this.options.random);
          this.options.onError?.(this.what, rows.length, error);
        },
      )
      .finally(() => {
        this.#inFlight = undefined;
        this.#inFlightRows = 0;
        this.options.onWrite?.();
        this.#schedule();
      });
  }

  /**
   * Failed rows whose lease ends too soon for another try to help, or once the run must stop. A
   * row not yet tried is always tried once: its lease token makes even a late write safe,
   * and it may still land before another drainer claims the message.
   */
  #giveUpLateRows(): void {
    const hasTime = this.options.hasTime();
    const lastMs = this.clock.now().getTime() + this.options.giveUpBeforeLeaseEndMs;
    const isLate = (row: Settled<T>) => this.#failed.has(row) && (!hasTime || row.leaseUntilMs <= lastMs);
    const late = this.#pending.filter(isLate);
    if (late.length === 0) return;
    const kept = this.#pending.filter((row) => !isLate(row));
    this.#pending.length = 0;
    this.#pending.push(...kept);
    this.onGivenUp(late, this);
    for (const row of late) row.written?.(false);
  }

  #checkIdle(): void {
    if (this.#idle !== undefined && this.#inFlight === undefined && this.#pending.length === 0) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  }

  /** As many rows as fit one call: `flushSize`, fewer when their error or result texts are long. */
  #callSize(): number {
    const limit = Math.min(this.options.flushSize, this.#pending.length);
    let bytes = 0;
    for (let i = 0; i < limit; i++) {
      const { error, result } = this.#pending[i] as { error?: string; result?: string };
      bytes += ((error?.length ?? 0) + (result?.length ?? 0)) * 3;
      if (bytes > MAX_ERROR_BYTES_PER_CALL) return Math.max(1, i);
    }
    return limit;
  }
}
