import type { Db } from '../db/types.js';
import { describeError } from '../errors.js';
import type { HeldMessage } from '../sql/heldMessage.js';
import { readCancelRequests } from '../sql/readCancelRequests.js';
import type { DrainLog } from './types.js';

export interface CancelWatchOptions {
  db: Db;
  queue: string;
  /** How often the running messages' cancel requests are read (about 500 ms: a cancel lands within a second). */
  everyMs: number;
  /** A cancel was requested for this running message, under its lease. */
  onCancel: (message: HeldMessage) => void;
  log: DrainLog;
}

/**
 * Watches a lane's running messages for cancel requests (DELETE /messages/{id} on a running
 * message, lib/sql/requestCancel.ts): while any handler runs, one statement every `everyMs` reads
 * the requests of all of them (readCancelRequests), so a cancel reaches its handler within about
 * `everyMs` plus a round trip. No call while nothing runs. The cost: two reads a second per lane
 * with running handlers, whatever their number (at 500 ms), a fraction of what their own work
 * and settles cost once handlers are short, and what makes long ones cancellable.
 */
export class CancelWatch {
  readonly #o: CancelWatchOptions;
  readonly #running = new Map<string, HeldMessage>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #poll: Promise<void> | undefined;
  #closed = false;
  #failures = 0;
  /** Reads sent. */
  polls = 0;

  constructor(options: CancelWatchOptions) {
    this.#o = options;
  }

  watch(message: HeldMessage): void {
    this.#running.set(message.id, message);
    this.#schedule();
  }

  unwatch(id: string): void {
    this.#running.delete(id);
    if (this.#running.size === 0 && this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#poll;
  }

  #schedule(): void {
    if (this.#closed || this.#timer !== undefined || this.#poll !== undefined || this.#running.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pollNow();
    }, this.#o.everyMs);
  }

  #pollNow(): void {
    if (this.#closed || this.#running.size === 0) return;
    const running = [...this.#running.values()];
    this.polls++;
    this.#poll = readCancelRequests(this.#o.db, running)
      .then(
        (requested) => {
          this.#failures = 0;
          for (const id of requested) {
            const message = this.#running.get(id);
            if (message === undefined) continue;
            this.#running.delete(id);
            this.#o.onCancel(message);
          }
        },
        (error: unknown) => {
          // Only the first of a run of failures: a cancel waits for the next read that works.
          if (this.#failures++ === 0) this.#o.log.warn('could not read cancel requests; tried again', { queue: this.#o.queue, error: describeError(error) });
        },
      )
      .finally(() => {
        this.#poll = undefined;
        this.#schedule();
      });
  }
}
