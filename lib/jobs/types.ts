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
  /**
   * Aborted when the per-message timeout passes, the drain run must stop, the message's lease is
   * lost (reason: a LeaseLostError; its outcome is not written) or its cancel is requested
   * (reason: a CancelRequestedError; it ends `cancelled`); pass it to fetch.
   */
  signal: AbortSignal;
  /**
   * Extends the message's lease to at least `seconds` from now, at once (the drain also extends it
   * by itself while the handler runs). Resolves once written; rejects when the lease was lost (and
   * the signal is aborted).
   */
  extendLease(seconds: number): Promise<void>;
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

/** What every job type declares, whether it handles one message at a time or a batch. */
interface JobTypeBase<P, T extends string, I> {
  /** e.g. `sms.send`, `webhook`. */
  type: T;
  /** Validated at enqueue (so bad messages are refused at the door) and again before dispatch. */
  payload: z.ZodType<P, I>;
  maxAttempts?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Per-message timeout (per batch for a batch type); the handler is abandoned (and its signal aborted) when it passes. */
  timeoutMs?: number;
  /**
   * What the type reads from its deployment, by environment variable name: plain settings, and
   * secrets (resolved at run time, see lib/secrets.ts). Declared so a deploy can be checked to
   * wire each one to the functions that load the type.
   */
  settings?: readonly string[];
  secrets?: readonly string[];
}

/**
 * A kind of message and what delivering it means, one message per handler call. `T` is the type's
 * name as a literal type and `I` its payload as a producer writes it (before defaults), so an
 * enqueue of `T` is checked against `I` at compile time; `P` is the payload the handler gets; `R`
 * what its handler returns, stored as the message's result.
 */
export interface SingleJobType<P = unknown, T extends string = string, I = unknown, R = unknown> extends JobTypeBase<P, T, I> {
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
  batch?: undefined;
  handleBatch?: undefined;
}

/** How a batch type's messages are gathered (checked at load: lib/jobs/JobRegistry.ts). */
export interface BatchOptions {
  /** Most messages in one handleBatch call: 1 to 1,000. */
  maxSize: number;
  /**
   * How long the drain may hold ready messages of the type to fill a batch before it hands over a
   * smaller one; default 0 (a smaller batch goes at once). Never
   * past the point where the lease or the run would no longer fit the handler's timeout.
   */
  maxWaitMs?: number;
}

/** One message of a batch, its payload parsed by the type's schema. */
export interface BatchMessage<P = unknown> {
  id: string;
  payload: P;
  /** 1 for the first attempt. */
  attempt: number;
  maxAttempts: number;
  /** The trace the message was enqueued in, when its producer sent one (see JobContext.traceId). */
  traceId?: string | undefined;
}

/** What a batch handler is given besides its messages. */
export interface BatchContext {
  queue: string;
  type: string;
  /** Aborted when the batch's timeout passes (or the drain run must stop); pass it to fetch. */
  signal: AbortSignal;
}

/**
 * A message of the batch that was not done: `retry` (after `retryAfterMs` when given, else the
 * type's backoff) or `dead` (dead-lettered at once). `error` is stored with the message.
 */
export type BatchItemFailure =
  { id: string; outcome: 'retry'; error: string | Error; retryAfterMs?: number | undefined } | { id: string; outcome: 'dead'; error: string | Error };

/**
 * A kind of message handled in batches (SQS's ReportBatchItemFailures, in short): `handleBatch`
 * gets up to `batch.maxSize` claimed messages of the type and resolves with the ones that were
 * not done; every message it leaves out is done. A throw (any error, a PermanentError too: one
 * error for a whole batch is more often the request's than every message's) retries them all,
 * after a RetryableError's retryAfterMs when it has one; to dead-letter, return `dead` outcomes.
 * A message whose payload fails the schema is dead-lettered alone and not passed. The batch runs
 * as one handler: one timeout (`timeoutMs`) for the whole call, one slot of the concurrency.
 */
export interface BatchJobType<P = unknown, T extends string = string, I = unknown> extends JobTypeBase<P, T, I> {
  batch: BatchOptions;
  handleBatch(messages: readonly BatchMessage<P>[], context: BatchContext): Promise<Iterable<BatchItemFailure> | void>;
  handle?: undefined;
}

/** A kind of message: handled one at a time (`handle`) or in batches (`batch` and `handleBatch`). */
export type JobType<P = unknown, T extends string = string, I = unknown, R = unknown> = SingleJobType<P, T, I, R> | BatchJobType<P, T, I>;

/** Any job type, whatever its payload: what lists and registries hold. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyJobType = JobType<any, string, any, any>;

/** The payload a producer sends for a job type (its schema's input). */
export type PayloadInput<J> = J extends JobType<unknown, string, infer I> ? I : never;

/**
 * A job type's result as a reader gets it back: what its handler resolves with, through JSON (a
 * Date comes back as its ISO text, undefined fields are gone), and not there when it returned none.
 */
export type ResultOf<J> = J extends SingleJobType<any, string, any, infer R> ? Exclude<Jsonified<R>, undefined | null> : never; // eslint-disable-line @typescript-eslint/no-explicit-any

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
 * `defineJobType({ type: 'order.confirm', payload: z.object({...}), async handle(payload) { return { ok: true }; } })`,
 * or with `batch: { maxSize: 100 }` and `async handleBatch(messages, context) {...}` for a batch type.
 */
export function defineJobType<const T extends string, S extends z.ZodType, R = void>(
  definition: Omit<SingleJobType<z.output<S>, T, z.input<S>, R>, 'payload'> & { payload: S },
): SingleJobType<z.output<S>, T, z.input<S>, R>;
export function defineJobType<const T extends string, S extends z.ZodType>(
  definition: Omit<BatchJobType<z.output<S>, T, z.input<S>>, 'payload'> & { payload: S },
): BatchJobType<z.output<S>, T, z.input<S>>;
export function defineJobType(definition: JobType): JobType {
  return definition;
}

/** Whether a job type handles batches. */
export function isBatchType(jobType: JobType): jobType is BatchJobType {
  return jobType.batch !== undefined;
}
