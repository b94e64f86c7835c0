/** The migration runner's bookkeeping (lib/migrate.ts): one row per applied (or claimed) version. */
import type { Db } from '../db/types.js';

const CREATE_SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INT UNSIGNED NOT NULL,
  name       VARCHAR(255) NOT NULL,
  checksum   CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  -- The run applying this version; NULL applied_at means it is still being applied.
  claimed_by CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  claimed_at DATETIME(3)  NOT NULL,
  applied_at DATETIME(3)  NULL,
  PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`;

export async function createSchemaMigrations(db: Db): Promise<void> {
  await db.execute(CREATE_SCHEMA_MIGRATIONS, undefined, { idempotent: true });
}

export interface MigrationRow {
  version: number;
  name: string;
  checksum: string;
  claimed_by: string;
  claimed_at: Date;
  applied_at: Date | null;
}

const READ_MIGRATION = 'SELECT version, name, checksum, claimed_by, claimed_at, applied_at FROM schema_migrations WHERE version = :version';

export async function readMigration(db: Db, version: number): Promise<MigrationRow | undefined> {
  const [row] = await db.query<MigrationRow & Record<string, unknown>>(READ_MIGRATION, { version }, { idempotent: true });
  return row;
}

const CLAIM_MIGRATION = `
INSERT INTO schema_migrations (version, name, checksum, claimed_by, claimed_at, applied_at)
VALUES (:version, :name, :checksum, :runId, :now, NULL)`;

/** Throws DuplicateKeyError when another run claimed the version first (the primary key decides). */
export async function claimMigration(db: Db, input: { version: number; name: string; checksum: string; runId: string; now: Date }): Promise<void> {
  await db.execute(CLAIM_MIGRATION, { ...input });
}

const RELEASE_MIGRATION = 'DELETE FROM schema_migrations WHERE version = :version AND claimed_by = :runId AND applied_at IS NULL';

/** Gives up this run's claim of a version it failed to apply, so a later run may try. */
export async function releaseMigration(db: Db, input: { version: number; runId: string }): Promise<void> {
  await db.execute(RELEASE_MIGRATION, { ...input }, { idempotent: true });
}

const MARK_MIGRATION_APPLIED = 'UPDATE schema_migrations SET applied_at = :now WHERE version = :version AND claimed_by = :runId';

export async function markMigrationApplied(db: Db, input: { version: number; runId: string; now: Date }): Promise<void> {
  await db.execute(MARK_MIGRATION_APPLIED, { ...input }, { idempotent: true });
}

/*
 * What other sessions are running, longest first, for lib/migrate.ts to recognise a statement an
 * earlier call left running. INFO is compared there, not here: the Data API may not pass the SQL
 * through byte for byte (whitespace, comments), so the runner normalises both sides. Only the
 * head of each INFO comes back: an enqueue's INFO can be megabytes, and the response must stay
 * under 1 MiB. A user sees its own sessions without the PROCESS privilege, and the migrations run
 * as the queue's user. information_schema.PROCESSLIST is in MariaDB and MySQL 8.0 (deprecated
 * from 8.0.35, still present); tried on MariaDB 10.11 only.
 */
const RUNNING_STATEMENTS = `
SELECT ID AS id, TIME AS seconds, LEFT(INFO, :infoChars) AS info
FROM information_schema.PROCESSLIST
WHERE ID <> CONNECTION_ID() AND INFO IS NOT NULL
ORDER BY TIME DESC
LIMIT :limit`;

export interface RunningStatement {
  id: number;
  seconds: number;
  info: string;
}

export async function runningStatements(db: Db, input: { infoChars: number; limit: number }): Promise<RunningStatement[]> {
  const rows = await db.query<{ id: number; seconds: number; info: string }>(RUNNING_STATEMENTS, { ...input }, { idempotent: true });
  return rows.map((row) => ({ id: Number(row.id), seconds: Number(row.seconds), info: String(row.info) }));
}

/*
 * Transactions open for at least :seconds in other sessions using this database: the ones that may
 * hold a metadata lock on a queue table, which a DDL statement must wait for and every later
 * statement on that table then waits behind. INNODB_TRX does not say which tables a transaction
 * touched (MySQL 8's performance_schema.metadata_locks would, but MariaDB ships with
 * performance_schema off), so "uses this database" stands in for it. Needs the PROCESS privilege
 * (MySQL 1227 without it). trx_started is in the server's system time zone and NOW() in the
 * session's: both UTC on Aurora by default and on the local stack. trx_id comes back as text: a
 * read-only transaction's id can pass 2^53.
 */
const LONG_TRANSACTIONS = `
SELECT CAST(t.trx_id AS CHAR) AS trx_id, t.trx_mysql_thread_id AS session_id,
       TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) AS age_seconds
FROM information_schema.INNODB_TRX AS t
JOIN information_schema.PROCESSLIST AS p ON p.ID = t.trx_mysql_thread_id
WHERE p.DB = DATABASE()
  AND t.trx_mysql_thread_id <> CONNECTION_ID()
  AND t.trx_started <= NOW() - INTERVAL :seconds SECOND
ORDER BY t.trx_started
LIMIT 5`;

export interface LongTransaction {
  trxId: string;
  sessionId: number;
  ageSeconds: number;
}

export async function longTransactions(db: Db, input: { seconds: number }): Promise<LongTransaction[]> {
  const rows = await db.query<{ trx_id: string; session_id: number; age_seconds: number }>(LONG_TRANSACTIONS, { ...input }, { idempotent: true });
  return rows.map((row) => ({ trxId: String(row.trx_id), sessionId: Number(row.session_id), ageSeconds: Number(row.age_seconds) }));
}

const SET_LOCK_WAIT = 'SET SESSION lock_wait_timeout = :seconds';
const RESET_LOCK_WAIT = 'SET SESSION lock_wait_timeout = @@GLOBAL.lock_wait_timeout';

/**
 * Runs one DDL statement that waits at most `seconds` for its table's metadata lock. A session
 * setting lasts only as long as the connection it was made on, and the Data API holds one
 * connection only for a transaction; so: BeginTransaction, SET SESSION lock_wait_timeout, the
 * statement (its implicit commit ends the SQL transaction, not the Data API's), the setting put
 * back (the connection goes back to the Data API's pool), Commit. MySQL 8 has no per-statement
 * form for DDL (SET_VAR hints are for SELECT/INSERT/UPDATE/DELETE, SET STATEMENT is MariaDB's).
 *
 * The statement's error leaves the transaction wrapped, so that `transaction()` does not re-run
 * the whole thing on a lock wait timeout (1205) by itself: the caller retries, and logs each try.
 * Putting the setting back is best effort: the Data API may have ended a transaction whose
 * statement failed, and it is skipped when the call ended while the statement may still run (the
 * transaction stays busy until the statement ends; the Data API rolls it back after 3 idle
 * minutes). A connection left with the short wait only gives up sooner on a metadata lock.
 */
export async function executeWithLockWait(db: Db, statement: string, input: { seconds: number; mayStillRun: (error: unknown) => boolean }): Promise<void> {
  try {
    await db.transaction(async (tx) => {
      await tx.execute(SET_LOCK_WAIT, { seconds: input.seconds });
      try {
        await tx.execute(statement, undefined, { continueAfterTimeout: true });
      } catch (error) {
        if (!input.mayStillRun(error)) await tx.execute(RESET_LOCK_WAIT).catch(() => {});
        throw new StatementFailed(error);
      }
      await tx.execute(RESET_LOCK_WAIT).catch(() => {});
    });
  } catch (error) {
    throw error instanceof StatementFailed ? error.error : error;
  }
}

/**
 * Carries the statement's failure out of the transaction, to be thrown as it was. Without a
 * `cause` (the failure rides in `error`): `transaction()` must not take it for a deadlock to retry.
 */
class StatementFailed extends Error {
  constructor(readonly error: unknown) {
    super('the statement failed');
    this.name = 'StatementFailed';
  }
}
