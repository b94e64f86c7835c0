import { OUTPUT_LIMITS } from '../../schema/messages.js';
import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import { describeError } from '../errors.js';
import type { QueueConfig } from '../queues.js';
import type { HeldMessage } from '../sql/heldMessage.js';
import { storeHeldProgress } from '../sql/storeHeldProgress.js';
import type { DrainLog } from './types.js';

/**
 * A value for context.progress as the JSON text stored: a finite number, or a plain JSON object of
 * at most OUTPUT_LIMITS.maxProgressBytes. Anything else is the handler's bug, thrown at the call as a
 * TypeError naming the rule, where the handler's author sees it.
 */
export function progressText(value: unknown): string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`progress must be a finite number or a JSON object, got ${value}`);
    return JSON.stringify(value);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`progress must be a finite number or a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  let text: string;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new TypeError(`progress must be JSON (${error instanceof Error ? error.message : String(error)})`, { cause: error });
  }
  const bytes = Buffer.byteLength(text);
  if (bytes > OUTPUT_LIMITS.maxProgressBytes) {
    throw new TypeError(`progress must be at most ${OUTPUT_LIMITS.maxProgressBytes} bytes of JSON text, got ${bytes}`);
  }
  return text;
}

export interface ProgressWriterOptions {
  /** Stores one message's progress (storeHeldProgress); its failures are only reported. */
  write: (held: HeldMessage, progress: string, now: Date) => Promise<unknown>;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  /** A write failed: the value is lost, the next one is written as usual. */
  onError: (held: HeldMessage, error: unknown) => void;
  intervalMs?: number;
}

interface Tracked {
  held: HeldMessage;
  /** The latest value not yet written. */
  pending: string | undefined;
  lastWriteMs: number | undefined;
  waiting: boolean;
  writing: boolean;
  ended: boolean;
}

/**
 * The progress of a lane's running messages, written at most once per interval per message: the
 * first value at once, later ones replace the value pending, which is written when the interval
 * is up, or at once when the attempt ends. Fire and forget: the handler never waits for a write,
 * nor does the outcome. One write per message in flight, so values land in the order they were
 * made and never more often than the interval.
 */
export class ProgressWriter {
  readonly #o: ProgressWriterOptions;
  readonly #intervalMs: number;
  readonly #messages = new Map<string, Tracked>();

  constructor(options: ProgressWriterOptions) {
    this.#o = options;
    this.#intervalMs = options.intervalMs ?? OUTPUT_LIMITS.progressIntervalMs;
  }

  /** Messages with a value pending or a write in flight. */
  get tracked(): number {
    return this.#messages.size;
  }

  report(held: HeldMessage, progress: string): void {
    let tracked = this.#messages.get(held.id);
    if (tracked === undefined) {
      tracked = { held, pending: undefined, lastWriteMs: undefined, waiting: false, writing: false, ended: false };
      this.#messages.set(held.id, tracked);
    }
    if (tracked.ended) return;
    tracked.pending = progress;
    this.#next(tracked);
  }

  /** The attempt ended: what is pending is written now, and the message is forgotten. */
  end(id: string): void {
    const tracked = this.#messages.get(id);
    if (tracked === undefined) return;
    tracked.ended = true;
    this.#next(tracked);
  }

  #next(tracked: Tracked): void {
    if (tracked.writing) return;
    if (tracked.pending === undefined) {
      // Only this attempt's entry: the message may be tracked again, under a later claim.
      if (tracked.ended && this.#messages.get(tracked.held.id) === tracked) this.#messages.delete(tracked.held.id);
      return;
    }
    const nowMs = this.#o.clock.now().getTime();
    const dueMs = tracked.lastWriteMs === undefined ? nowMs : tracked.lastWriteMs + this.#intervalMs;
    if (tracked.ended || nowMs >= dueMs) return this.#write(tracked, nowMs);
    if (tracked.waiting) return;
    tracked.waiting = true;
    void this.#o.sleep(dueMs - nowMs).then(() => {
      tracked.waiting = false;
      this.#next(tracked);
    });
  }

  #write(tracked: Tracked, nowMs: number): void {
    const progress = tracked.pending!;
    tracked.pending = undefined;
    tracked.writing = true;
    tracked.lastWriteMs = nowMs;
    const written = (async () => this.#o.write(tracked.held, progress, new Date(nowMs)))();
    void written
      .catch((error: unknown) => this.#o.onError(tracked.held, error))
      .finally(() => {
        tracked.writing = false;
        this.#next(tracked);
      });
  }
}

/** A lane's ProgressWriter: writes with storeHeldProgress; of failing writes, one warning per minute at most. */
export function laneProgressWriter(lane: { db: Db; clock: Clock; sleep: (ms: number) => Promise<void>; queue: QueueConfig; log: DrainLog }): ProgressWriter {
  let warnedAtMs = -Infinity;
  return new ProgressWriter({
    write: (held, progress, now) => storeHeldProgress(lane.db, { held, progress, now }),
    clock: lane.clock,
    sleep: lane.sleep,
    onError: (held, error) => {
      const nowMs = lane.clock.now().getTime();
      if (nowMs - warnedAtMs < 60_000) return;
      warnedAtMs = nowMs;
      lane.log.warn('progress write failed; the next value is written as usual', { queue: lane.queue.name, messageId: held.id, error: describeError(error) });
    },
  });
}
