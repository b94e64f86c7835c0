/**
 * What a Data API call can fail with, as classes with a `retryable` flag. `toDatabaseError` is
 * the only place that looks at SDK error names, HTTP statuses and message texts.
 */
import { QueueError } from '../errors.js';

interface DatabaseErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  mysqlCode?: number;
  sqlState?: string;
  /** The Data API's error name, e.g. `DatabaseErrorException`. */
  errorName?: string;
}

export class DatabaseError extends QueueError {
  readonly mysqlCode: number | undefined;
  readonly sqlState: string | undefined;
  readonly errorName: string | undefined;

  constructor(message: string, options: DatabaseErrorOptions = {}) {
    super(message, { retryable: options.retryable ?? false, cause: options.cause });
    this.mysqlCode = options.mysqlCode;
    this.sqlState = options.sqlState;
    this.errorName = options.errorName;
  }

  /** Without the message, which can quote SQL and its values, and without the SDK error it wraps. */
  override describe(): string {
    return describeDatabaseError(this);
  }
}

/** MySQL 1062: a unique key already holds this value. */
export class DuplicateKeyError extends DatabaseError {
  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, mysqlCode: options.mysqlCode ?? 1062, retryable: false });
  }
}

/**
 * MySQL 1213 (deadlock; the server rolled the transaction back) or 1205 (lock wait timeout).
 * Retryable by re-running the whole transaction, never the one statement inside it.
 */
export class DeadlockError extends DatabaseError {
  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, retryable: true });
  }
}

/** The cluster is waking from auto-pause; the statement did not run. Thrown once waiting ran out. */
export class DatabaseResumingError extends DatabaseError {
  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, retryable: true });
  }
}

/** The 45 s call limit passed. Not retryable: the statement may have run (or still be running). */
export class StatementTimeoutError extends DatabaseError {
  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** The transaction id is unknown: it expired (3 min idle), ended, or an earlier error aborted it. */
export class TransactionNotFoundError extends DatabaseError {
  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, retryable: false });
  }
}

/** Another call on the same transaction was still running; this call was refused without running. */
export class TransactionBusyError extends DatabaseError {
  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> = {}) {
    super(message, { ...options, retryable: true });
  }
}

/**
 * A 5xx, a network failure or a client-side timeout. `requestMayHaveRun` is false only when the
 * request provably never reached the service (connection refused, DNS, connect timeout).
 */
export class DataApiUnavailableError extends DatabaseError {
  readonly requestMayHaveRun: boolean;

  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> & { requestMayHaveRun?: boolean } = {}) {
    super(message, { ...options, retryable: true });
    this.requestMayHaveRun = options.requestMayHaveRun ?? true;
  }
}

/** Any other 4xx: a malformed request, access denied, unknown resource or secret, unsupported result. */
export class DataApiRequestError extends DatabaseError {
  readonly httpStatusCode: number | undefined;

  constructor(message: string, options: Omit<DatabaseErrorOptions, 'retryable'> & { httpStatusCode?: number } = {}) {
    super(message, { ...options, retryable: false });
    this.httpStatusCode = options.httpStatusCode;
  }
}

/**
 * A database error in words that quote nothing the Data API said: its messages can carry the
 * statement and the values in it (a syntax error, a duplicate entry), which must not be stored on
 * a message or shown in a response. Says the class, what it means, and the MySQL code, SQLSTATE or
 * HTTP status when known; e.g. `DatabaseError: the database refused the statement (MySQL 1064, SQLSTATE 42000)`.
 */
export function describeDatabaseError(error: DatabaseError): string {
  const details = [
    error.mysqlCode ? `MySQL ${error.mysqlCode}` : undefined,
    error.sqlState ? `SQLSTATE ${error.sqlState}` : undefined,
    error instanceof DataApiRequestError && error.httpStatusCode !== undefined ? `HTTP ${error.httpStatusCode}` : undefined,
  ].filter((detail) => detail !== undefined);
  return `${error.name}: ${meaningOf(error)}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

function meaningOf(error: DatabaseError): string {
  if (error instanceof DuplicateKeyError) return 'a unique key already holds this value';
  if (error instanceof DeadlockError) return 'deadlock or lock wait timeout';
  if (error instanceof DatabaseResumingError) return 'the cluster is resuming from auto-pause';
  if (error instanceof StatementTimeoutError) return "the statement passed the Data API's call time limit and may have run";
  if (error instanceof TransactionNotFoundError) return 'the transaction is unknown (expired, ended or aborted)';
  if (error instanceof TransactionBusyError) return 'another call on the same transaction was still running';
  if (error instanceof DataApiUnavailableError) return 'the Data API did not answer (5xx, network failure or timeout)';
  if (error instanceof DataApiRequestError) return 'the Data API refused the request';
  return 'the database refused the statement';
}

export interface MysqlErrorInfo {
  code: number | undefined;
  sqlState: string | undefined;
}

const V1_CODE = /Database error code: (\d+)\b/;
const V2_CODE = /Error code: (\d+); SQLState: (\w+)/;
const SQLSTATE = /SQLState: (\w+)/;

/**
 * The MySQL error code and SQLSTATE in a Data API message. Two formats are known:
 * `Database error code: 1062. Message: …` (Serverless v1, local-data-api) and
 * `…Error code: 1062; SQLState: 23000` (v2 DatabaseErrorException). The exact v2 MySQL text is
 * unconfirmed, so the commonest codes also fall back to matching MySQL's own message text.
 */
export function parseMysqlError(message: string): MysqlErrorInfo {
  const v2 = V2_CODE.exec(message);
  if (v2 !== null) return { code: Number(v2[1]), sqlState: v2[2] };
  const sqlState = SQLSTATE.exec(message)?.[1];
  const v1 = V1_CODE.exec(message);
  // v1 reports `code: 0` for some errors whose text still names the cause.
  if (v1 !== null && v1[1] !== '0') return { code: Number(v1[1]), sqlState };
  if (message.includes('Duplicate entry')) return { code: 1062, sqlState };
  if (message.includes('Deadlock found')) return { code: 1213, sqlState };
  if (message.includes('Lock wait timeout')) return { code: 1205, sqlState };
  // An index named in a hint is gone (a migration rebuilds it): the claims run unhinted meanwhile.
  if (/Key '[^']+' doesn't exist in table/.test(message)) return { code: 1176, sqlState };
  return { code: v1 === null ? undefined : 0, sqlState };
}

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'ESOCKETTIMEDOUT', 'UND_ERR_SOCKET', 'ERR_HTTP2_STREAM_ERROR']);

interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: 'client' | 'server';
  $metadata?: { httpStatusCode?: number };
}

/** Maps anything a Data API call threw to one of the classes above; the original is kept as `cause`. */
export function toDatabaseError(error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  if (typeof error !== 'object' || error === null) return new DatabaseError(`Data API call failed: ${String(error)}`, { cause: error });

  const shape = error as SdkErrorShape;
  const name = shape.name ?? 'Error';
  const message = shape.message || name;
  const status = shape.$metadata?.httpStatusCode;
  const options = { cause: error, errorName: name };

  switch (name) {
    case 'DatabaseResumingException':
      return new DatabaseResumingError(message, options);
    case 'StatementTimeoutException':
      return new StatementTimeoutError(message, options);
    case 'TransactionNotFoundException':
      return new TransactionNotFoundError(message, options);
    case 'DatabaseErrorException':
    case 'BadRequestException':
      return fromStatementError(message, options, status);
    case 'AbortError':
      // Our own AbortSignal; nothing to retry.
      return new DatabaseError(message, options);
  }

  if (name === 'TimeoutError' || status === undefined) {
    const code = shape.code;
    if (name === 'TimeoutError' || (code !== undefined && (NETWORK_CODES.has(code) || NOT_SENT_CODES.has(code)))) {
      const notSent = (code !== undefined && NOT_SENT_CODES.has(code)) || message.includes('did not establish a connection');
      return new DataApiUnavailableError(message, { ...options, requestMayHaveRun: !notSent });
    }
  }
  if (shape.$fault === 'server' || (status !== undefined && status >= 500)) return new DataApiUnavailableError(message, options);
  if (status === 429 || name === 'ThrottlingException') return new DataApiUnavailableError(message, { ...options, requestMayHaveRun: false });
  if (status !== undefined) return new DataApiRequestError(message, { ...options, httpStatusCode: status });
  return new DatabaseError(message, options);
}

function fromStatementError(message: string, options: { cause: unknown; errorName: string }, status: number | undefined): DatabaseError {
  // local-data-api and Serverless v1 send these as BadRequestException rather than their own classes.
  if (message.includes('is still running a query')) return new TransactionBusyError(message, options);
  if (message.includes('Invalid transaction ID') || /Transaction \S+ (isn't|is not) found/.test(message)) {
    return new TransactionNotFoundError(message, options);
  }
  // Serverless v1's text while the cluster wakes up; the statement did not run.
  if (message.includes('Communications link failure')) return new DatabaseResumingError(message, options);

  const { code, sqlState } = parseMysqlError(message);
  const mysql = { ...options, mysqlCode: code, sqlState };
  if (code === 1062) return new DuplicateKeyError(message, mysql);
  if (code === 1213 || code === 1205) return new DeadlockError(message, mysql);
  if (code !== undefined || options.errorName === 'DatabaseErrorException') return new DatabaseError(message, mysql);
  return new DataApiRequestError(message, { ...mysql, httpStatusCode: status });
}
