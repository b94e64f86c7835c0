import type { z } from 'zod';
import type { BackoffPolicy } from '../backoff.js';

export type { BackoffPolicy } from '../backoff.js';

/** What a job handler is given besides its payload. */
export interface JobContext {
  id: string;
  queue: string;
  type: string;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  /** Aborted when the per-message timeout passes (or the drain run must stop); pass it to fetch. */
  signal: AbortSignal;
  /**
   * The trace the message was enqueued in (a W3C trace id), for the handler's own log lines;
   * undefined when its producer sent none. With an OpenTelemetry SDK registered, the handler also
   * runs inside the attempt's span, so its own spans join the trace by themselves.
   */
  traceId?: string | undefined;
  /**
   * Reports how far the handler has come: a finite number (e.g. 0.4) or a small JSON object (at
   * most 512 bytes as JSON text), shown with the message's status (`progress`, `progressAt`).
   * Not awaited: the latest value is written at most once a second, and when the attempt ends; a
   * failed write is only logged. Throws a TypeError naming the rule for any other value.
   */
  progress(value: number | Record<string, unknown>): void;
}

/**
 * A kind of message and what delivering it means. `T` is the type's name as a literal type and `I`
 * its payload as a producer writes it (before defaults), so an enqueue of `T` is checked against
 * `I` at compile time; `P` is the payload the handler gets; `R` what its handler returns, stored as
 * the message's result.
 */
export interface JobType<P = unknown, T extends string = string, I = unknown, R = unknown> {
  /** e.g. `sms.send`, `webhook`. */
  type: T;
  /** Validated at enqueue (so bad messages are refused at the door) and again before dispatch. */
  payload: z.ZodType<P, I>;
  /**
   * Resolves: done. Throws a PermanentError: dead at once. Throws a RetryableError (optionally
   * with retryAfterMs) or anything else: retried with backoff until attempts run out.
   *
   * What it resolves with is the message's result (GET /messages/{id} `result`, the client's
   * `get` and `waitFor`): JSON of at most 48 KiB as JSON text; undefined or null stores none.
   * Anything else (not JSON, or larger) is not stored: the message is done all the same, and the
   * drain logs a warning naming the message and the rule.
   */
  handle(payload: P, context: JobContext): Promise<R>;
  maxAttempts?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Per-message timeout; the handler is abandoned (and its signal aborted) when it passes. */
  timeoutMs?: number;
  /**
   * What the type reads from its deployment, by environment variable name: plain settings, and
   * secrets (resolved at run time, see lib/secrets.ts). Declared so a deploy can be checked to
   * wire each one to the functions that load the type.
   */
  settings?: readonly string[];
  secrets?: readonly string[];
}

/** Any job type, whatever its payload: what lists and registries hold. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobType = JobType<any, string, any, any>;

/** The payload a producer sends for a job type (its schema's input). */
export type PayloadInput<J> = J extends JobType<unknown, string, infer I> ? I : never;

/**
 * A job type's result as a reader gets it back: what its handler resolves with, through JSON (a
 * Date comes back as its ISO text, undefined fields are gone), and not there when it returned none.
 */
export type ResultOf<J> = J extends JobType<any, string, any, infer R> ? Exclude<Jsonified<R>, undefined | null> : never; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A value after JSON.stringify and JSON.parse, as far as types can say (unknown stays unknown: a type declared without one). */
export type Jsonified<V> = unknown extends V
  ? unknown
  : V extends { toJSON(): infer J }
    ? J
    : V extends string | number | boolean | null | undefined
      ? V
      : V extends readonly (infer E)[]
        ? Jsonified<E>[]
        : V extends object
          ? { [K in keyof V as V[K] extends (...args: never[]) => unknown ? never : K]: Jsonified<V[K]> }
          : never;

/**
 * Keeps a job type's name a literal type, its handler's payload tied to its schema, and its result
 * type what the handler returns (inferred: no second declaration to keep in step with the code):
 * `defineJobType({ type: 'order.confirm', payload: z.object({...}), async handle(payload) { return { ok: true }; } })`.
 */
export function defineJobType<const T extends string, S extends z.ZodType, R = void>(
  definition: Omit<JobType<z.output<S>, T, z.input<S>, R>, 'payload'> & { payload: S },
): JobType<z.output<S>, T, z.input<S>, R> {
  return definition as JobType<z.output<S>, T, z.input<S>, R>;
}
