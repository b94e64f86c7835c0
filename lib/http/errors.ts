import { ConflictError, NotFoundError, QueueError, TooLargeError, ValidationError, type FieldIssue } from '../errors.js';

/** What every error response carries under `error`. */
export interface ErrorBody {
  code: string;
  message: string;
  field?: string;
  rule?: string;
  /** Every issue found, when more than one input was wrong (at most MAX_LISTED_ISSUES). */
  issues?: FieldIssue[];
  /** For 409 on a message: the status that stopped the operation. */
  status?: string;
}

/**
 * A refusal that exists only over HTTP (a body this API cannot read, a route it does not serve):
 * its status and body are part of the API's contract, and the error handler answers it as it is.
 * Refusals of the domain (lib/errors.ts) are answered through `refusalResponse`.
 */
export class HttpError extends QueueError {
  readonly status: number;
  readonly code: string;
  readonly body: ErrorBody;
  readonly headers: Record<string, string>;

  constructor(status: number, body: ErrorBody, options: { headers?: Record<string, string>; cause?: unknown } = {}) {
    super(body.message, { retryable: status === 503 || status === 429, cause: options.cause });
    this.status = status;
    this.code = body.code;
    this.body = body;
    this.headers = options.headers ?? {};
  }
}

export const MAX_LISTED_ISSUES = 20;

/** 413 for a request body over the endpoint's limit, before it is parsed. */
export class PayloadTooLargeError extends HttpError {
  constructor(message: string, field?: string) {
    super(413, { code: 'too_large', message, ...(field ? { field } : {}), rule: 'max_bytes' });
  }
}

/** 415: a body this API cannot read. `field` is the header at fault, `rule` what it must say. */
export class UnsupportedMediaTypeError extends HttpError {
  constructor(message: string, options: { field?: string; rule?: string; headers?: Record<string, string> } = {}) {
    super(
      415,
      { code: 'unsupported_media_type', message, field: options.field ?? 'content-type', rule: options.rule ?? 'application/json' },
      { headers: options.headers },
    );
  }
}

/**
 * The status and body of a refusal of the domain: 400 for input that breaks a rule (413 when only
 * sizes are wrong), 404 for what does not exist, 409 for a conflict with the current state.
 * Undefined for any other error. A validation body names the first issue and lists up to
 * MAX_LISTED_ISSUES when there are several.
 */
export function refusalResponse(error: unknown): { status: number; body: ErrorBody } | undefined {
  if (error instanceof ValidationError) {
    const { issues } = error;
    return {
      status: error instanceof TooLargeError ? 413 : 400,
      body: {
        code: error.code,
        message: error.message,
        ...(error.field ? { field: error.field } : {}),
        rule: error.rule,
        ...(issues.length > 1 ? { issues: issues.slice(0, MAX_LISTED_ISSUES) } : {}),
      },
    };
  }
  if (error instanceof NotFoundError) {
    return { status: 404, body: { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } };
  }
  if (error instanceof ConflictError) {
    return { status: 409, body: { ...(error.messageStatus !== undefined ? { status: error.messageStatus } : {}), code: error.code, message: error.message } };
  }
  return undefined;
}
