import { clip } from './clip.js';

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

  /**
   * What may be stored and shown of this error, when it is not its name, message and cause
   * (describeError): an error whose message can quote SQL or its values (lib/db's) says less.
   */
  describe(): string | undefined {
    return undefined;
  }
}

/** The longest description describeError gives: what a stored error holds at most. */
export const MAX_ERROR_LENGTH = 2_000;
const ERROR_LIMIT = { chars: MAX_ERROR_LENGTH };

/**
 * `Name: message` of anything thrown, one level of cause, no stack; at most MAX_ERROR_LENGTH
 * characters. A QueueError describes itself (a database error without its message, which can
 * quote SQL and its values, and without the SDK error it wraps).
 */
export function describeError(error: unknown): string {
  try {
    const described = error instanceof QueueError ? error.describe() : undefined;
    if (described !== undefined) return clip(described, ERROR_LIMIT);
    if (error instanceof Error) {
      const own = nameAndMessage(error);
      const cause = error.cause instanceof Error ? describeCause(error.cause) : undefined;
      // Wrappers often repeat their cause's message already.
      const repeated = cause === undefined || (error.cause as Error).message === '' || own.includes((error.cause as Error).message);
      return clip(repeated ? own : `${own} (cause: ${cause})`, ERROR_LIMIT);
    }
    if (typeof error === 'string') return clip(error === '' ? 'non-Error thrown: empty string' : error, ERROR_LIMIT);
    if (error === undefined || error === null) return `non-Error thrown: ${String(error)}`;
    if (typeof error === 'object') return clip(`non-Error thrown: ${JSON.stringify(error) ?? Object.prototype.toString.call(error)}`, ERROR_LIMIT);
    if (typeof error === 'number' || typeof error === 'bigint' || typeof error === 'boolean' || typeof error === 'symbol') {
      return clip(`non-Error thrown: ${String(error)}`, ERROR_LIMIT);
    }
    // A function: its name, not its source.
    return clip(`non-Error thrown: function ${typeof error === 'function' && error.name !== '' ? error.name : '(anonymous)'}`, ERROR_LIMIT);
  } catch {
    // A throwing getter or a circular object: say what we can.
    return 'non-Error thrown: (not describable)';
  }
}

function describeCause(cause: Error): string {
  return (cause instanceof QueueError ? cause.describe() : undefined) ?? nameAndMessage(cause);
}

function nameAndMessage(error: Error): string {
  const name = error.name || 'Error';
  return error.message ? `${name}: ${error.message}` : name;
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

/**
 * Why a running handler's signal was aborted by its drain rather than its timeout: the message's
 * lease was taken over (a heartbeat found it gone), so another drain may run it and this attempt's
 * outcome will not be written.
 */
export class LeaseLostError extends QueueError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}

/** A running message's cancel was requested (DELETE /messages/{id}); it ends `cancelled` unless its handler finished first. */
export class CancelRequestedError extends QueueError {
  constructor(message: string) {
    super(message, { retryable: false });
  }
}
