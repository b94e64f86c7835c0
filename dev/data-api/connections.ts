/**
 * MySQL connections for the server: a mysql2 pool whose connections all run as Aurora MySQL 3's
 * do (UTC, MySQL 8.0's default sql_mode, REPEATABLE READ) with utf8mb4, and a Session (one
 * connection checked out for one call or one transaction) that runs statements under the call
 * timeout.
 */
import mysql from 'mysql2';
import type { ExecuteValues, FieldPacket, PoolConnection, ResultSetHeader } from 'mysql2';
import { statementTimeout } from './errors.js';

export interface QueryResult {
  /** Rows as arrays; undefined when the statement returned no result set. */
  rows?: unknown[][];
  fields?: FieldPacket[];
  header?: ResultSetHeader;
}

/**
 * Statements run prepared (see parameters.ts) and mysql2 keeps them per connection. MariaDB and
 * MySQL cap prepared statements server-wide (max_prepared_stmt_count, 16382 by default), shared
 * by every server and test using the database: keep a few per connection, more than the
 * product's hot statements.
 */
const PREPARED_STATEMENTS_PER_CONNECTION = 64;

/**
 * MySQL 8.0's default sql_mode, which Aurora MySQL 3 keeps, so what Aurora refuses fails here too.
 * MariaDB's own default lacks ONLY_FULL_GROUP_BY (a selected column neither grouped nor
 * aggregated) and NO_ZERO_DATE / NO_ZERO_IN_DATE ('0000-00-00', '2024-00-10'). MariaDB's
 * ONLY_FULL_GROUP_BY differs from MySQL's both ways: it refuses a column that depends on a
 * grouped primary key, which MySQL accepts (write such queries to group or aggregate the
 * column), and accepts a non-grouped column in ORDER BY or a window function of a grouped
 * query, which MySQL refuses (only a review finds those).
 */
export const MYSQL_80_SQL_MODE = 'ONLY_FULL_GROUP_BY,STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION';

/**
 * Every new connection of `pool` runs as an Aurora MySQL 3 session does: MySQL 8.0's default
 * sql_mode and REPEATABLE READ. For this server's pool, and for the direct pools that write test
 * fixtures and bench data beside it, so what they write is what Aurora would take.
 */
export function runAsMysql80(pool: mysql.Pool): void {
  pool.on('connection', (connection) => {
    connection.query(`SET SESSION sql_mode = '${MYSQL_80_SQL_MODE}'`);
    connection.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  });
}

export function createPool(databaseUrl: string, connectionLimit: number): mysql.Pool {
  const pool = mysql.createPool({
    uri: databaseUrl,
    connectionLimit,
    waitForConnections: true,
    enableKeepAlive: true,
    charset: 'UTF8MB4_UNICODE_CI',
    // Raw text for values JavaScript numbers and Dates would distort: the Data API's own
    // rendering (trimmed fractions, exact DECIMAL and BIGINT digits) is done in results.ts.
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    jsonStrings: true,
    rowsAsArray: true,
    // Two statements in one call are then a syntax error (1064), as "multi-statements aren't
    // supported" on AWS. A single trailing semicolon (`SELECT 1;`) is accepted by MariaDB and
    // MySQL alike, so it works here, although AWS warns it "might cause a syntax error".
    multipleStatements: false,
    // mysql2 asks for IGNORE_SPACE by default, which turns function names such as COUNT into
    // reserved words; JDBC drivers do not, so neither do we. FOUND_ROWS stays on: Connector/J
    // sets it too, so an UPDATE counts the rows it matched, not only those it changed.
    flags: ['-IGNORE_SPACE'],
    maxPreparedStatements: PREPARED_STATEMENTS_PER_CONNECTION,
  });
  runAsMysql80(pool);
  pool.on('connection', (connection) => {
    // Aurora's default time zone is UTC; values are rendered in the session zone.
    connection.query("SET time_zone = '+00:00'");
    // MySQL rounds excess fractional seconds (…32.78 into DATETIME(0) is …33); MariaDB
    // truncates unless told otherwise. MySQL rejects this MariaDB-only mode: ignore that.
    connection.query("SET sql_mode = CONCAT(@@sql_mode, ',TIME_ROUND_FRACTIONAL')", () => {});
  });
  return pool;
}

/** The database each pooled connection currently uses (`USE`); unknown after a `USE` in SQL. */
const currentDatabase = new WeakMap<object, string | undefined>();

const USE_STATEMENT = /^\s*use\b/i;

/**
 * The SQL texts prepared on each connection. A prepared statement keeps the database that was
 * current when it was prepared (its tables, even DATABASE()), so they are all closed when the
 * connection changes database.
 */
const preparedSql = new WeakMap<PoolConnection, Set<string>>();

function forgetPreparedStatements(connection: PoolConnection): void {
  const texts = preparedSql.get(connection);
  if (texts === undefined) return;
  for (const sql of texts) connection.unprepare(sql);
  texts.clear();
}

export class Session {
  /** Resolves when no statement is running on the connection (finished, or killed and reaped). */
  idle: Promise<void> = Promise.resolve();
  /** A KILL was sent; the connection should not go back to the pool. */
  killed = false;
  /** The connection failed and cannot be reused. */
  broken = false;

  constructor(
    readonly connection: PoolConnection,
    private readonly databaseUrl: string,
  ) {}

  get threadId(): number {
    return this.connection.threadId;
  }

  /**
   * Switches to the request's database. A request without `database` keeps whatever database
   * the pooled connection last used: AWS would have none selected, but SQL here always names
   * its database or sends `database`, and forgetting a database needs a full session reset.
   */
  async useDatabase(database: string | undefined): Promise<void> {
    if (database === undefined || currentDatabase.get(this.connection) === database) return;
    forgetPreparedStatements(this.connection);
    await this.query(`USE ${mysql.escapeId(database)}`);
    currentDatabase.set(this.connection, database);
  }

  /** A statement with no timeout (BEGIN, COMMIT, ROLLBACK, USE). */
  query(sql: string): Promise<QueryResult> {
    const result = runQuery(this.connection, sql);
    this.track(
      result.then(noop, (error: { fatal?: boolean }) => {
        if (error?.fatal) this.broken = true;
      }),
    );
    return result;
  }

  /**
   * Runs `sql` as a prepared statement with `values` bound to its `?`s; after `timeoutMs`
   * rejects with StatementTimeoutException. The statement is then killed (KILL QUERY from a
   * side connection) unless `continueAfterTimeout`, in which case it runs on and `idle` waits
   * for it.
   */
  run(sql: string, values: ExecuteValues[], timeoutMs: number, continueAfterTimeout: boolean): Promise<QueryResult> {
    if (USE_STATEMENT.test(sql)) {
      currentDatabase.delete(this.connection);
      forgetPreparedStatements(this.connection);
    }
    const query = runStatement(this.connection, sql, values);
    let timer: NodeJS.Timeout | undefined;
    let kill: Promise<void> = Promise.resolve();
    const outcome = new Promise<QueryResult>((resolve, reject) => {
      timer = setTimeout(
        () => {
          if (!continueAfterTimeout) {
            this.killed = true;
            kill = killQuery(this.databaseUrl, this.threadId);
          }
          reject(statementTimeout(this.threadId));
        },
        Math.max(0, timeoutMs),
      );
      query.then(resolve, reject);
    });
    this.track(
      query
        .then(noop, (error: { fatal?: boolean }) => {
          if (error?.fatal) this.broken = true;
        })
        .then(() => {
          clearTimeout(timer);
          return kill;
        }),
    );
    return outcome;
  }

  /** mysql2 runs a connection's commands in order, so idle means: everything sent so far is done. */
  private track(done: Promise<void>): void {
    const before = this.idle;
    this.idle = done.then(() => before);
  }

  /** Back to the pool once idle; destroyed when broken or killed (a late KILL could hit the next user). */
  async release(): Promise<void> {
    await this.idle;
    if (this.broken || this.killed) this.connection.destroy();
    else this.connection.release();
  }
}

function toQueryResult(result: unknown, fields: FieldPacket[]): QueryResult {
  return Array.isArray(result) ? { rows: result as unknown[][], fields } : { header: result as ResultSetHeader };
}

function runQuery(connection: PoolConnection, sql: string): Promise<QueryResult> {
  return new Promise((resolve, reject) => {
    connection.query(sql, (error, result, fields) => (error ? reject(error) : resolve(toQueryResult(result, fields))));
  });
}

/** ER_UNSUPPORTED_PS: "This command is not supported in the prepared statement protocol yet". */
const UNSUPPORTED_IN_PREPARED_STATEMENT = 1295;

/**
 * Prepares (once per connection: mysql2 caches it) and executes. The few statements MySQL will
 * not prepare still run, as text, when they have no parameters.
 */
function runStatement(connection: PoolConnection, sql: string, values: ExecuteValues[]): Promise<QueryResult> {
  let texts = preparedSql.get(connection);
  if (texts === undefined) preparedSql.set(connection, (texts = new Set()));
  // mysql2 evicts statements on its own; past a bound, closing them all keeps this set small.
  if (texts.size >= 4 * PREPARED_STATEMENTS_PER_CONNECTION) forgetPreparedStatements(connection);
  texts.add(sql);
  return new Promise<QueryResult>((resolve, reject) => {
    connection.execute(sql, values, (error, result, fields) => (error ? reject(error) : resolve(toQueryResult(result, fields))));
  }).catch((error: { errno?: number }) => {
    if (error?.errno === UNSUPPORTED_IN_PREPARED_STATEMENT && values.length === 0) return runQuery(connection, sql);
    throw error;
  });
}

export function getSession(pool: mysql.Pool, databaseUrl: string): Promise<Session> {
  return new Promise((resolve, reject) => {
    pool.getConnection((error, connection) => (error ? reject(error) : resolve(new Session(connection, databaseUrl))));
  });
}

async function killQuery(databaseUrl: string, threadId: number): Promise<void> {
  const side = mysql.createConnection(databaseUrl).promise();
  try {
    await side.query(`KILL QUERY ${threadId}`);
  } catch {
    // The statement may have finished and its connection closed meanwhile.
  } finally {
    await side.end().catch(noop);
  }
}

const noop = () => {};
