/**
 * The benchmark's databases: created fresh, migrated through the product's own migration runner,
 * reset between repetitions, and dropped at the end (also when the run is interrupted).
 */
import mysql from 'mysql2/promise';
import { runAsMysql80 } from '../../dev/data-api/connections.js';
import { createDb, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { migrate } from '../../lib/migrate.js';
import { createTestDatabase, DATABASE_URL, dropTestDatabase } from '../../test/support/database.js';

export { DATABASE_URL };

const created = new Set<string>();

export async function createBenchDatabase(prefix = 'aq_bench'): Promise<string> {
  const database = await createTestDatabase(prefix);
  created.add(database);
  return database;
}

export async function dropBenchDatabase(database: string): Promise<void> {
  await dropTestDatabase(database);
  created.delete(database);
}

export async function dropAllBenchDatabases(): Promise<void> {
  for (const database of [...created]) await dropBenchDatabase(database).catch(() => {});
}

/** A Db through the Data API at `endpoint`, with its own SDK client (and so its own sockets). */
export function dataApiDb(endpoint: string, database: string): Db {
  return createDb({ endpoint, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database });
}

export async function migrateBenchDatabase(endpoint: string, database: string): Promise<void> {
  await migrate(dataApiDb(endpoint, database), { log: () => {} });
}

/**
 * A direct mysql2 pool on the database: for the raw baseline, setup and checks on the final table,
 * never for the code under test. Named placeholders, UTC, MySQL 8.0's sql_mode, like the Data API
 * server's own sessions.
 */
export function rawPool(database: string, connectionLimit = 8): mysql.Pool {
  const pool = mysql.createPool({
    uri: `${DATABASE_URL}/${database}`,
    connectionLimit,
    namedPlaceholders: true,
    timezone: 'Z',
    charset: 'UTF8MB4_UNICODE_CI',
  });
  runAsMysql80(pool.pool);
  return pool;
}

/** Empties the queue tables (faster than DELETE, and leaves no purge work behind). */
export async function resetQueueTables(pool: mysql.Pool): Promise<void> {
  // queue_payload_parts references queue_messages, and MySQL refuses to truncate a referenced
  // table whatever the child holds: both go on one connection with the check off.
  const connection = await pool.getConnection();
  try {
    await connection.query('SET FOREIGN_KEY_CHECKS = 0');
    await connection.query('TRUNCATE TABLE queue_payload_parts');
    await connection.query('TRUNCATE TABLE queue_messages');
    await connection.query('TRUNCATE TABLE queue_state');
    // Per-group rows (migration 013): an override or pause set by one measurement must not outlive it.
    await connection.query('TRUNCATE TABLE queue_groups');
    await connection.query('TRUNCATE TABLE queue_group_permits');
  } finally {
    await connection.query('SET FOREIGN_KEY_CHECKS = 1').catch(() => {});
    connection.release();
  }
}
