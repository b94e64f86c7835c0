import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import { ack } from '../sql/ack.js';
import { deadLetter, type HeldDeadLetter } from '../sql/deadLetter.js';
import type { HeldMessage } from '../sql/heldMessage.js';
import { releaseClaims, type HeldRelease } from '../sql/releaseClaims.js';
import { reschedule, type HeldRetry } from '../sql/reschedule.js';

/** Rows the settle writes changed, by outcome. */
export interface SettleCounts {
  done: number;
  retried: number;
  dead: number;
  /** Claimed but never dispatched (no time left, or aborted): given back with their attempt. */
  released: number;
  /** Outcomes whose write changed nothing: the lease had expired (and the message was claimed again). */
  lostLeases: number;
  /** Outcomes whose write failed: the messages stay leased and come back when their lease ends. */
  unsettled: number;
}

export interface SettlerOptions {
  /** Most rows in one call. */
  flushSize: number;
  /** How long the first outcome of a call waits for others to join it. */
  lingerMs: number;
  /** Called after every write, so a waiting lane can look again. */
  onWrite?: () => void;
  onError?: (what: string, rows: number, error: unknown) => void;
  onLostLeases?: (what: string, lost: number) => void;
}

export const DEFAULT_SETTLE_FLUSH_SIZE = 500;
export const DEFAULT_SETTLE_LINGER_MS = 100;

/* Bytes of error text one call may carry: the request limit is 4 MiB, and a call this big is slow anyway. */
const MAX_ERROR_BYTES_PER_CALL = 1024 * 1024;

type Write<T> = (db: Db, rows: T[], now: Date) => Promise<number>;

/**
 * Gathers the outcomes of a lane's batches and writes each kind in one call for many messages
 * (group commit): the first outcome waits up to `lingerMs` for others, a full call goes at once,
 * and at most one call of each kind is in flight, so outcomes that arrive meanwhile ride on the
 * next. Every row carries its own lease token, so outcomes of different claims share a call and
 * each still proves its claim is held. Outcomes are never lost to a failed write: the messages
 * stay leased and come back once their lease ends.
 */
export class Settler {
  readonly counts: SettleCounts = { done: 0, retried: 0, dead: 0, released: 0, lostLeases: 0, unsettled: 0 };
  readonly #acks: Channel<HeldMessage>;
  readonly #retries: Channel<HeldRetry>;
  readonly #deadLetters: Channel<HeldDeadLetter>;
  readonly #releases: Channel<HeldRelease>;
  readonly #channels: Channel<any>[];

  constructor(db: Db, clock: Clock, options: SettlerOptions) {
    const channel = <T extends HeldMessage>(what: string, write: Write<T>, counted: (changed: number) => void) =>
      new Channel<T>(db, clock, options, what, write, (sent, changed) => {
        counted(changed);
        if (changed < sent) {
          this.counts.lostLeases += sent - changed;
          options.onLostLeases?.(what, sent - changed);
        }
      }, (rows) => {
        this.counts.unsettled += rows;
      });
    this.#acks = channel('ack', (d, held, now) => ack(d, { held, now }), (n) => (this.counts.done += n));
    this.#retries = channel('reschedule', (d, retries, now) => reschedule(d, { retries, now }), (n) => (this.counts.retried += n));
    this.#deadLetters = channel('dead-letter', (d, dead, now) => deadLetter(d, { dead, now }), (n) => (this.counts.dead += n));
    this.#releases = channel('release', (d, held, now) => releaseClaims(d, { held, now }), (n) => (this.counts.released += n));
    this.#channels = [this.#acks, this.#retries, this.#deadLetters, this.#releases];
  }

  done(message: HeldMessage): void {
    this.#acks.add(message);
  }

  retry(retry: HeldRetry): void {
    this.#retries.add(retry);
  }

  dead(deadLetter: HeldDeadLetter): void {
    this.#deadLetters.add(deadLetter);
  }

  release(message: HeldRelease): void {
    this.#releases.add(message);
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
  readonly #pending: T[] = [];
  #inFlight: Promise<void> | undefined;
  #inFlightRows = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closing = false;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly options: SettlerOptions,
    private readonly what: string,
    private readonly write: Write<T>,
    private readonly onWritten: (sent: number, changed: number) => void,
    private readonly onFailed: (rows: number) => void,
  ) {}

  get unwritten(): number {
    return this.#pending.length + this.#inFlightRows;
  }

  add(row: T): void {
    this.#pending.push(row);
    this.#schedule();
  }

  async close(): Promise<void> {
    this.#closing = true;
    this.#schedule();
    while (this.#inFlight) await this.#inFlight;
  }

  #schedule(): void {
    // The call in flight schedules the next when it ends, with what gathered meanwhile.
    if (this.#inFlight || this.#pending.length === 0) return;
    if (this.#closing || this.#pending.length >= this.options.flushSize) {
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
    if (this.#inFlight || this.#pending.length === 0) return;
    const rows = this.#pending.splice(0, this.#callSize());
    this.#inFlightRows = rows.length;
    this.#inFlight = this.write(this.db, rows, this.clock.now()).then(
      (changed) => this.onWritten(rows.length, changed),
      (error: unknown) => {
        this.onFailed(rows.length);
        this.options.onError?.(this.what, rows.length, error);
      },
    ).finally(() => {
      this.#inFlight = undefined;
      this.#inFlightRows = 0;
      this.options.onWrite?.();
      this.#schedule();
    });
  }

  /** As many rows as fit one call: `flushSize`, fewer when their error texts are long. */
  #callSize(): number {
    const limit = Math.min(this.options.flushSize, this.#pending.length);
    let bytes = 0;
    for (let i = 0; i < limit; i++) {
      const error = (this.#pending[i] as { error?: string }).error;
      bytes += error === undefined ? 0 : error.length * 3;
      if (bytes > MAX_ERROR_BYTES_PER_CALL) return Math.max(1, i);
    }
    return limit;
  }
}
