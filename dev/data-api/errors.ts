/**
 * The Data API's error classes as they travel on the wire: an HTTP status, the class name in
 * `x-amzn-ErrorType` and a body `{"message": ...}` (plus modelled members such as
 * `dbConnectionId`). The SDK picks the class from the header, so the name must be exact.
 */

export class DataApiError extends Error {
  readonly status: number;
  /** Modelled members besides `message`, copied into the body. */
  readonly members: Record<string, unknown>;

  constructor(name: string, status: number, message: string, members: Record<string, unknown> = {}) {
    super(message);
    this.name = name;
    this.status = status;
    this.members = members;
  }

  body(): string {
    return JSON.stringify({ message: this.message, ...this.members });
  }
}

export const badRequest = (message: string) => new DataApiError('BadRequestException', 400, message);

export const notFound = (message: string) => new DataApiError('NotFoundException', 404, message);

export const transactionNotFound = (message: string) => new DataApiError('TransactionNotFoundException', 404, message);

export const databaseError = (message: string) => new DataApiError('DatabaseErrorException', 400, message);

export const statementTimeout = (dbConnectionId: number) =>
  // The real message text is not documented; this one says what happened.
  new DataApiError('StatementTimeoutException', 400, 'Request timed out', { dbConnectionId });

export const databaseResuming = (instanceId: string) =>
  new DataApiError(
    'DatabaseResumingException',
    400,
    `The Aurora DB instance ${instanceId} is resuming after being auto-paused. Please wait a few seconds and try again.`,
  );

export const serviceUnavailable = () => new DataApiError('ServiceUnavailableError', 503, 'Service Unavailable');

export const internalServerError = () => new DataApiError('InternalServerErrorException', 500, 'Internal Server Error');

export const databaseUnavailable = () => new DataApiError('DatabaseUnavailableException', 504, 'The database is unavailable');

/** The fields of a mysql2 error that matter here. */
interface MysqlError {
  errno?: number;
  sqlState?: string;
  sqlMessage?: string;
  code?: string;
  fatal?: boolean;
}

/** MySQL reported this error: the statement reached the server and was refused or failed. */
export function isSqlError(error: unknown): error is MysqlError & { errno: number; sqlMessage: string } {
  const e = error as MysqlError | null;
  return typeof e?.errno === 'number' && typeof e.sqlMessage === 'string';
}

/** The connection cannot be used again (lost, killed, protocol failure). */
export function isFatal(error: unknown): boolean {
  return (error as MysqlError | null)?.fatal === true;
}

/**
 * Maps anything thrown while talking to MySQL to what the Data API would answer. SQL errors keep
 * the server's text and end with `Error code: <errno>; SQLState: <state>`, the shape
 * aurora-data-api parses on v2 clusters. Anything else (connection refused, lost mid-call)
 * becomes DatabaseUnavailableException without detail: nothing about this host may leak.
 */
export function fromMysqlError(error: unknown): DataApiError {
  if (error instanceof DataApiError) return error;
  if (isSqlError(error)) {
    return databaseError(`${error.sqlMessage}; Error code: ${error.errno}; SQLState: ${error.sqlState ?? 'HY000'}`);
  }
  return databaseUnavailable();
}
