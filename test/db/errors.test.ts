import {
  AccessDeniedException,
  BadRequestException,
  DatabaseErrorException,
  DatabaseResumingException,
  DatabaseUnavailableException,
  InternalServerErrorException,
  RDSDataServiceException,
  StatementTimeoutException,
  TransactionNotFoundException,
} from '@aws-sdk/client-rds-data';
import { describe, expect, it } from 'vitest';
import {
  DatabaseError,
  DatabaseResumingError,
  DataApiRequestError,
  DataApiUnavailableError,
  DeadlockError,
  describeDatabaseError,
  DuplicateKeyError,
  parseMysqlError,
  StatementTimeoutError,
  toDatabaseError,
  TransactionBusyError,
  TransactionNotFoundError,
} from '../../lib/db/errors.js';
import { QueueError } from '../../lib/errors.js';

const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });

describe('parseMysqlError', () => {
  it('reads the Serverless v1 / local-data-api format', () => {
    expect(parseMysqlError("Database error code: 1062. Message: Duplicate entry 'a' for key 'PRIMARY'")).toEqual({ code: 1062, sqlState: undefined });
  });

  it('reads the v2 DatabaseErrorException format with its SQLSTATE', () => {
    expect(parseMysqlError('Deadlock found when trying to get lock; try restarting transaction. Error code: 1213; SQLState: 40001')).toEqual({
      code: 1213,
      sqlState: '40001',
    });
    expect(parseMysqlError("Table 'x.y' doesn't exist; Error code: 1146; SQLState: 42S02")).toEqual({ code: 1146, sqlState: '42S02' });
  });

  it('falls back to MySQL message text when no code is given (or v1 says 0)', () => {
    expect(parseMysqlError("Duplicate entry 'a' for key 'PRIMARY'").code).toBe(1062);
    expect(parseMysqlError('Database error code: 0. Message: Deadlock found when trying to get lock').code).toBe(1213);
    expect(parseMysqlError('Lock wait timeout exceeded; try restarting transaction').code).toBe(1205);
    expect(parseMysqlError("Key 'ix_queue_messages_group_lease' doesn't exist in table 'r'").code).toBe(1176);
    expect(parseMysqlError('Database error code: 0. Message: already exists.').code).toBe(0);
    expect(parseMysqlError('something else').code).toBeUndefined();
  });
});

describe('describeDatabaseError', () => {
  it('names the class, its meaning and the codes, and quotes nothing of the message', () => {
    const cases: [DatabaseError, string][] = [
      [
        new DatabaseError("near 'DROP TABLE x'", { mysqlCode: 1064, sqlState: '42000' }),
        'DatabaseError: the database refused the statement (MySQL 1064, SQLSTATE 42000)',
      ],
      [new DuplicateKeyError("Duplicate entry 'secret' for key 'PRIMARY'"), 'DuplicateKeyError: a unique key already holds this value (MySQL 1062)'],
      [new DeadlockError('Deadlock found; UPDATE queue_messages SET …', { mysqlCode: 1213 }), 'DeadlockError: deadlock or lock wait timeout (MySQL 1213)'],
      [new StatementTimeoutError('SELECT …'), "StatementTimeoutError: the statement passed the Data API's call time limit and may have run"],
      [new TransactionNotFoundError('Transaction abc is not found'), 'TransactionNotFoundError: the transaction is unknown (expired, ended or aborted)'],
      [new TransactionBusyError('still running a query'), 'TransactionBusyError: another call on the same transaction was still running'],
      [new DatabaseResumingError('resuming'), 'DatabaseResumingError: the cluster is resuming from auto-pause'],
      [
        new DataApiUnavailableError('connect ECONNREFUSED 10.0.0.1:443'),
        'DataApiUnavailableError: the Data API did not answer (5xx, network failure or timeout)',
      ],
      [new DataApiRequestError('arn:aws:rds:… is not authorized', { httpStatusCode: 403 }), 'DataApiRequestError: the Data API refused the request (HTTP 403)'],
      [new DatabaseError('Database error code: 0. Message: x', { mysqlCode: 0 }), 'DatabaseError: the database refused the statement'],
    ];
    for (const [error, described] of cases) expect(describeDatabaseError(error)).toBe(described);
  });
});

describe('toDatabaseError', () => {
  it('maps MySQL errors in either service class to typed errors, keeping the cause', () => {
    const v2 = new DatabaseErrorException({ message: "Duplicate entry 'k' for key 'ux'; Error code: 1062; SQLState: 23000", ...meta(400) });
    const duplicate = toDatabaseError(v2);
    expect(duplicate).toBeInstanceOf(DuplicateKeyError);
    expect(duplicate).toMatchObject({ mysqlCode: 1062, sqlState: '23000', retryable: false, errorName: 'DatabaseErrorException' });
    expect(duplicate.cause).toBe(v2);
    expect(duplicate).toBeInstanceOf(DatabaseError);
    expect(duplicate).toBeInstanceOf(QueueError);

    const v1 = toDatabaseError(
      new BadRequestException({ message: 'Database error code: 1213. Message: Deadlock found when trying to get lock', ...meta(400) }),
    );
    expect(v1).toBeInstanceOf(DeadlockError);
    expect(v1).toMatchObject({ mysqlCode: 1213, retryable: true });
    expect(
      toDatabaseError(new BadRequestException({ message: 'Database error code: 1205. Message: Lock wait timeout exceeded', ...meta(400) })),
    ).toBeInstanceOf(DeadlockError);

    const other = toDatabaseError(new DatabaseErrorException({ message: 'Unknown column; Error code: 1054; SQLState: 42S22', ...meta(400) }));
    expect(other.constructor).toBe(DatabaseError);
    expect(other.mysqlCode).toBe(1054);
  });

  it('maps the service error classes', () => {
    expect(toDatabaseError(new DatabaseResumingException({ message: 'resuming', ...meta(400) }))).toBeInstanceOf(DatabaseResumingError);
    expect(toDatabaseError(new StatementTimeoutException({ message: 'timeout', ...meta(400) }))).toMatchObject({ retryable: false });
    expect(toDatabaseError(new StatementTimeoutException({ message: 'timeout', ...meta(400) }))).toBeInstanceOf(StatementTimeoutError);
    expect(toDatabaseError(new TransactionNotFoundException({ message: 'Transaction abc is not found', ...meta(404) }))).toBeInstanceOf(
      TransactionNotFoundError,
    );
    expect(toDatabaseError(new InternalServerErrorException({ message: 'boom', ...meta(500) }))).toMatchObject({ retryable: true, requestMayHaveRun: true });
    expect(toDatabaseError(new DatabaseUnavailableException({ message: 'no writer', ...meta(504) }))).toBeInstanceOf(DataApiUnavailableError);
    const denied = toDatabaseError(new AccessDeniedException({ message: 'no', ...meta(403) }));
    expect(denied).toBeInstanceOf(DataApiRequestError);
    expect(denied).toMatchObject({ retryable: false, httpStatusCode: 403 });
  });

  it('recognises the texts local-data-api and v1 send as BadRequestException', () => {
    expect(toDatabaseError(new BadRequestException({ message: 'Invalid transaction ID', ...meta(400) }))).toBeInstanceOf(TransactionNotFoundError);
    expect(toDatabaseError(new DatabaseErrorException({ message: 'Transaction is still running a query', ...meta(400) }))).toBeInstanceOf(TransactionBusyError);
    expect(toDatabaseError(new BadRequestException({ message: 'Communications link failure', ...meta(400) }))).toBeInstanceOf(DatabaseResumingError);
    expect(toDatabaseError(new BadRequestException({ message: 'Missing required parameter', ...meta(400) }))).toBeInstanceOf(DataApiRequestError);
  });

  it('maps unmodelled service errors by status', () => {
    const unknown5xx = Object.assign(new RDSDataServiceException({ name: 'Weird', $fault: 'server', message: 'x', ...meta(502) }), {});
    expect(toDatabaseError(unknown5xx)).toBeInstanceOf(DataApiUnavailableError);
    const unknown4xx = new RDSDataServiceException({ name: 'Weird', $fault: 'client', message: 'x', ...meta(400) });
    expect(toDatabaseError(unknown4xx)).toBeInstanceOf(DataApiRequestError);
  });

  it('maps network failures, telling a request that never left from one that may have run', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(toDatabaseError(refused)).toMatchObject({ requestMayHaveRun: false, retryable: true });
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(toDatabaseError(reset)).toMatchObject({ requestMayHaveRun: true });
    const timeout = Object.assign(new Error('a request has exceeded the configured 60000 ms requestTimeout'), { name: 'TimeoutError' });
    expect(toDatabaseError(timeout)).toBeInstanceOf(DataApiUnavailableError);
    const connectTimeout = Object.assign(
      new Error('the request socket did not establish a connection with the server within the configured timeout of 5000 ms.'),
      { name: 'TimeoutError' },
    );
    expect(toDatabaseError(connectTimeout)).toMatchObject({ requestMayHaveRun: false });
  });

  it('does not add SQL or anything else to the service message', () => {
    expect(toDatabaseError(new BadRequestException({ message: 'Database error code: 1064. Message: syntax', ...meta(400) })).message).toBe(
      'Database error code: 1064. Message: syntax',
    );
  });

  it('returns errors of its own classes unchanged', () => {
    const error = new DeadlockError('x');
    expect(toDatabaseError(error)).toBe(error);
  });
});
