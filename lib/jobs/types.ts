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
}

export interface JobType<P = unknown> {
  /** e.g. `sms.send`, `webhook`. */
  type: string;
  /** Validated at enqueue (so bad messages are refused at the door) and again before dispatch. */
  payload: z.ZodType<P>;
  /**
   * Resolves: done. Throws a PermanentError: dead at once. Throws a RetryableError (optionally
   * with retryAfterMs) or anything else: retried with backoff until attempts run out.
   */
  handle(payload: P, context: JobContext): Promise<void>;
  maxAttempts?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Per-message timeout; the handler is abandoned (and its signal aborted) when it passes. */
  timeoutMs?: number;
}

/** Keeps the payload type of a job type's handler tied to its schema. */
export function defineJobType<S extends z.ZodType>(
  definition: Omit<JobType<z.output<S>>, 'payload'> & { payload: S },
): JobType<z.output<S>> {
  return definition as JobType<z.output<S>>;
}
