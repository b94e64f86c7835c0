import type { z } from 'zod';
import { QueueError } from '../errors.js';

/** One thing wrong with the input: where (`messages[3].payload.to`), which rule, and in words. */
export interface FieldIssue {
  field: string;
  rule: string;
  message: string;
}

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
 * An error whose status and body are part of the API's contract. Thrown by lib/ functions that
 * validate their input (so a library caller gets the same refusals as an HTTP caller) and by the
 * HTTP middlewares; the error handler turns it into the response as it is.
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

/** 400: input that breaks a rule. Names the first issue, lists up to MAX_LISTED_ISSUES. */
export class ValidationError extends HttpError {
  readonly issues: readonly FieldIssue[];

  constructor(issues: readonly FieldIssue[], options: { code?: string; status?: number } = {}) {
    const [first] = issues;
    if (first === undefined) throw new TypeError('ValidationError needs at least one issue');
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    super(options.status ?? 400, {
      code: options.code ?? 'invalid_input',
      message: `${first.field ? `${first.field}: ` : ''}${first.message}${more}`,
      ...(first.field ? { field: first.field } : {}),
      rule: first.rule,
      ...(issues.length > 1 ? { issues: issues.slice(0, MAX_LISTED_ISSUES) } : {}),
    });
    this.issues = issues;
  }
}

export class NotFoundError extends HttpError {
  constructor(code: string, message: string, field?: string) {
    super(404, { code, message, ...(field ? { field } : {}) });
  }
}

export class ConflictError extends HttpError {
  constructor(code: string, message: string, extra: Partial<ErrorBody> = {}) {
    super(409, { ...extra, code, message });
  }
}

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

/** A path as the API shows it: `messages[3].payload.to`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}

/** Zod's issues as the API's, each under `basePath`. Unrecognized keys are named one by one. */
export function issuesFromZod(error: z.ZodError, basePath: readonly PropertyKey[] = []): FieldIssue[] {
  return error.issues.flatMap((issue): FieldIssue[] => {
    const path = [...basePath, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: formatPath([...path, key]), rule: 'unrecognized_key', message: `unknown field "${key}"` }));
    }
    const rule =
      issue.code === 'custom' && typeof issue.params?.rule === 'string'
        ? issue.params.rule
        : issue.code === 'invalid_format'
          ? `invalid_format:${issue.format}`
          : issue.code;
    return [{ field: formatPath(path), rule, message: issue.message }];
  });
}
