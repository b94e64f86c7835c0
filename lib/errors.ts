/**
 * Errors a job handler throws to steer what happens to its message, and the base class every
 * error of this product extends. `retryable` says whether the call that failed may be made again
 * as it is (the database was unavailable, nothing ran); false when repeating it could do harm or
 * cannot help (a statement that timed out may have run). It does not decide a message's fate:
 * a handler's message is dead-lettered early only for a PermanentError, and retried for anything
 * else it throws.
 */
export class QueueError extends Error {
  readonly retryable: boolean;

  constructor(message: string, options: { retryable: boolean; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retryable = options.retryable;
  }
}

/** The message can never succeed (a 4xx from the downstream, a bad address): dead-letter it now. */
export class PermanentError extends QueueError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { retryable: false, ...options });
  }
}

/** Try again later; `retryAfterMs` (e.g. from HTTP Retry-After) wins over the backoff policy. */
export class RetryableError extends QueueError {
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { retryable: true, cause: options.cause });
    this.retryAfterMs = options.retryAfterMs;
  }
}
