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
