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

/*
 * Refusals: what a caller asked for cannot be done as asked, and nothing was done. Thrown by
 * lib/ functions that check their input, so a library caller, the CLI and the HTTP API are
 * refused alike; lib/http answers each with its status (400, 413, 404, 409). `code` is a
 * stable, machine-readable name of the refusal; `message` is for people.
 */

/** One thing wrong with the input: where (`messages[3].payload.to`), which rule, and in words. */
export interface FieldIssue {
  field: string;
  rule: string;
  message: string;
}

/** Input that breaks a rule. The message names the first issue; `issues` holds every one. */
export class ValidationError extends QueueError {
  readonly code: string = 'invalid_input';
  readonly issues: readonly FieldIssue[];
  /** The first issue's field ('' when the input as a whole is at fault) and rule. */
  readonly field: string;
  readonly rule: string;

  constructor(issues: readonly FieldIssue[]) {
    const [first] = issues;
    if (first === undefined) throw new TypeError(`${new.target.name} needs at least one issue`);
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(`${first.field ? `${first.field}: ` : ''}${first.message}${more}`, { retryable: false });
    this.issues = issues;
    this.field = first.field;
    this.rule = first.rule;
  }
}

/** Input within the rules but over a size limit (a payload, a batch's request). */
export class TooLargeError extends ValidationError {
  override readonly code = 'too_large';
}

/** What the caller named does not exist: an undeclared queue, an unknown message id. */
export class NotFoundError extends QueueError {
  readonly code: string;
  readonly field: string | undefined;

  constructor(code: string, message: string, field?: string) {
    super(message, { retryable: false });
    this.code = code;
    this.field = field;
  }
}

/** The request does not fit the current state, e.g. cancelling a message that is already running. */
export class ConflictError extends QueueError {
  readonly code: string;
  /** The status of the message that stopped the operation. */
  readonly messageStatus: string | undefined;

  constructor(code: string, message: string, options: { messageStatus?: string } = {}) {
    super(message, { retryable: false });
    this.code = code;
    this.messageStatus = options.messageStatus;
  }
}
