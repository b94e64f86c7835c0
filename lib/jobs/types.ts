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
}

/**
 * A kind of message and what delivering it means. `T` is the type's name as a literal type and `I`
 * its payload as a producer writes it (before defaults), so an enqueue of `T` is checked against
 * `I` at compile time; `P` is the payload the handler gets.
 */
export interface JobType<P = unknown, T extends string = string, I = unknown> {
  /** e.g. `sms.send`, `webhook`. */
  type: T;
  /** Validated at enqueue (so bad messages are refused at the door) and again before dispatch. */
  payload: z.ZodType<P, I>;
  /**
   * Resolves: done. Throws a PermanentError: dead at once. Throws a RetryableError (optionally
   * with retryAfterMs) or anything else: retried with backoff until attempts run out.
   */
  handle(payload: P, context: JobContext): Promise<void>;
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
export type AnyJobType = JobType<any, string, any>;

/** The payload a producer sends for a job type (its schema's input). */
export type PayloadInput<J> = J extends JobType<unknown, string, infer I> ? I : never;

/**
 * Keeps a job type's name a literal type and its handler's payload tied to its schema:
 * `defineJobType({ type: 'order.confirm', payload: z.object({...}), async handle(payload) {...} })`.
 */
export function defineJobType<const T extends string, S extends z.ZodType>(
  definition: Omit<JobType<z.output<S>, T, z.input<S>>, 'payload'> & { payload: S },
): JobType<z.output<S>, T, z.input<S>> {
  return definition as JobType<z.output<S>, T, z.input<S>>;
}
