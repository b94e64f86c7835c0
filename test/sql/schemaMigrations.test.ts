/**
 * schemaMigrations: the migration runner's statements, one by one (test/migrate.test.ts runs them
 * together through migrate()). The bookkeeping's guard is the primary key (a version is claimed
 * once) and `claimed_by` (a run releases or completes only its own claim); the process-list and
 * long-transaction reads are checked against sessions this file opens; executeWithLockWait against
 * a metadata lock this file holds.
 */
import { randomBytes } from 'node:crypto';
import { ExecuteStatementCommand, ServiceUnavailableError, type RDSDataClient } from '@aws-sdk/client-rds-data';
import mysql, { type Connection, type PoolConnection } from 'mysql2/promise';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DataApiUnavailableError, DatabaseError, DeadlockError, DuplicateKeyError } from '../../lib/db/errors.js';
import {
  claimMigration,
  createSchemaMigrations,
  executeWithLockWait,
  longTransactions,
  markMigrationApplied,
  readMigration,
  releaseMigration,
  runningStatements,
} from '../../lib/sql/schemaMigrations.js';
import { createDataApiClient, createDb } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { DATABASE_URL } from '../support/database.js';
import { lostReplyDb } from '../support/lostReply.js';
import { at, recordingDb, tableRows } from '../support/statements.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from '../support/stack.js';
import { waitFor } from '../support/waitFor.js';

const stack = useStack({ migrate: false });

const RUN_A = '00000000-0000-4000-8000-00000000000a';
const RUN_B = '00000000-0000-4000-8000-00000000000b';
const CHECKSUM = 'c'.repeat(64);
const claimOf = (version: number, runId: string, ms = 0) => ({ version, name: `m${version}`, checksum: CHECKSUM, runId, now: at(ms) });
const rows = () => tableRows(stack, 'schema_migrations', 'version');

/**
 * A Db whose first statement matching `when` runs and loses its reply (as test/support/lostReply.ts
 * does), and whose wait before the re-send runs `between`: what another session does meanwhile.
 */
function lostOnceThen(when: (sql: string) => boolean, between: () => Promise<unknown>): Db {
  const client = createDataApiClient({ endpoint: stack.endpoint });
  let lost = false;
  const wrapped = {
    async send(command: ExecuteStatementCommand) {
      const output = await client.send(command);
      if (lost || !(command instanceof ExecuteStatementCommand) || !when(command.input.sql ?? '')) return output;
      lost = true;
      throw new ServiceUnavailableError({ message: 'The reply was lost', $metadata: { httpStatusCode: 503 } });
    },
  } as unknown as RDSDataClient;
  return createDb({ client: wrapped, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database, sleep: async () => void (await between()) });
}

describe('createSchemaMigrations', () => {
  it('creates the bookkeeping table, and running it again (or re-sent) keeps its rows', async () => {
    await createSchemaMigrations(stack.db);
    const [columns] = await stack.sql.query(
      "SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations' ORDER BY ORDINAL_POSITION",
    );
    expect((columns as { name: string }[]).map((c) => c.name)).toEqual(['version', 'name', 'checksum', 'claimed_by', 'claimed_at', 'applied_at']);
    await claimMigration(stack.db, claimOf(1, RUN_A));
    const before = await rows();
    await createSchemaMigrations(stack.db);
    const lost = lostReplyDb(stack, { when: (sql) => sql.startsWith('CREATE TABLE IF NOT EXISTS schema_migrations') });
    await createSchemaMigrations(lost.db);
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await rows()).toEqual(before);
  });
});

describe('claim, read, release, mark applied', () => {
  beforeEach(async () => {
    await createSchemaMigrations(stack.db);
    await stack.sql.query('DELETE FROM schema_migrations');
  });

  it('reads nothing for a version no run claimed, and the claim as recorded once one did', async () => {
    expect(await readMigration(stack.db, 7)).toBeUndefined();
    await claimMigration(stack.db, claimOf(7, RUN_A, 1_000));
    expect(await readMigration(stack.db, 7)).toEqual({
      version: 7,
      name: 'm7',
      checksum: CHECKSUM,
      claimed_by: RUN_A,
      claimed_at: at(1_000),
      applied_at: null,
    });
    expect(await readMigration(stack.db, 8)).toBeUndefined();
  });

  it('records a version once: a second claim, by any run, fails on the primary key and changes nothing', async () => {
    await claimMigration(stack.db, claimOf(7, RUN_A));
    const before = await rows();
    await expect(claimMigration(stack.db, claimOf(7, RUN_B, 5_000))).rejects.toBeInstanceOf(DuplicateKeyError);
    await expect(claimMigration(stack.db, claimOf(7, RUN_A, 5_000))).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await rows()).toEqual(before);
  });

  it('is not re-sent after a lost reply: the caller gets the error and reads the row back to learn the claim is its own', async () => {
    const lost = lostReplyDb(stack, { when: (sql) => sql.includes('INSERT INTO schema_migrations') });
    const error = await claimMigration(lost.db, claimOf(7, RUN_A)).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DataApiUnavailableError);
    expect((error as DataApiUnavailableError).requestMayHaveRun).toBe(true);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect((await readMigration(stack.db, 7))?.claimed_by).toBe(RUN_A);
  });

  it("marks only its own claim applied; another run's mark changes nothing, and a re-send leaves one run's state", async () => {
    await claimMigration(stack.db, claimOf(7, RUN_A));
    await markMigrationApplied(stack.db, { version: 7, runId: RUN_B, now: at(2_000) });
    expect((await readMigration(stack.db, 7))?.applied_at).toBeNull();
    const lost = lostReplyDb(stack, { when: (sql) => sql.startsWith('UPDATE schema_migrations') });
    await markMigrationApplied(lost.db, { version: 7, runId: RUN_A, now: at(3_000) });
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await readMigration(stack.db, 7)).toMatchObject({ claimed_by: RUN_A, applied_at: at(3_000) });
  });

  it('releases only its own claim, and only while it is not applied', async () => {
    await claimMigration(stack.db, claimOf(7, RUN_A));
    await claimMigration(stack.db, claimOf(8, RUN_A));
    await markMigrationApplied(stack.db, { version: 8, runId: RUN_A, now: at(1_000) });
    await releaseMigration(stack.db, { version: 7, runId: RUN_B });
    await releaseMigration(stack.db, { version: 8, runId: RUN_A });
    expect((await rows()).map((row) => row.version)).toEqual([7, 8]);
    await releaseMigration(stack.db, { version: 7, runId: RUN_A });
    expect((await rows()).map((row) => row.version)).toEqual([8]);
  });

  it('re-sent after a lost reply, a release leaves alone the claim another run made in between', async () => {
    await claimMigration(stack.db, claimOf(7, RUN_A));
    // The first send releases A's claim and its reply is lost; before the re-send, run B claims the version.
    const db = lostOnceThen(
      (sql) => sql.startsWith('DELETE FROM schema_migrations'),
      () => claimMigration(stack.db, claimOf(7, RUN_B)),
    );
    await releaseMigration(db, { version: 7, runId: RUN_A });
    expect(db.stats.byOperation.Execute).toBe(2);
    expect(await readMigration(stack.db, 7)).toMatchObject({ claimed_by: RUN_B, applied_at: null });
  });
});

/** Fixture sessions this file opens (never the code under test's), released after each test. */
const sessions: PoolConnection[] = [];
afterEach(async () => {
  for (const session of sessions.splice(0)) {
    await session.query('ROLLBACK').catch(() => {});
    session.release();
  }
});
async function session(): Promise<PoolConnection> {
  const connection = await stack.sql.getConnection();
  sessions.push(connection);
  return connection;
}

/** A session of its own that has chosen no database (the fixture pool's use the stack's). */
const plainSessions: Connection[] = [];
afterEach(async () => {
  for (const connection of plainSessions.splice(0)) await connection.end();
});
async function sessionWithoutDatabase(): Promise<Connection> {
  const connection = await mysql.createConnection(DATABASE_URL);
  plainSessions.push(connection);
  return connection;
}

/** A statement sleeping in a session of its own until killed; its text carries `marker`. */
async function sleeping(marker: string) {
  const connection = await session();
  const sql = `SELECT SLEEP(600) AS ${marker}\n-- a comment inside, as migrations have\nFROM DUAL`;
  const done = connection.query(sql).catch(() => {});
  return {
    sql,
    sessionId: connection.threadId,
    async end() {
      await stack.sql.query(`KILL QUERY ${connection.threadId}`);
      await done;
    },
  };
}

describe('runningStatements', () => {
  it("answers other sessions' running statements with their session id, seconds and the head of the text", async () => {
    const marker = `rs_${randomBytes(6).toString('hex')}`;
    const slow = await sleeping(marker);
    try {
      const mine = async (input: { infoChars: number; limit: number }) =>
        (await runningStatements(stack.db, input)).filter((running) => running.id === slow.sessionId);
      await waitFor(async () => (await mine({ infoChars: 4_096, limit: 100 })).length === 1, 10_000, 'the sleeping statement in the process list');
      const [found] = await mine({ infoChars: 4_096, limit: 100 });
      expect(found).toEqual({ id: slow.sessionId, seconds: expect.any(Number), info: slow.sql });
      expect(found!.seconds).toBeGreaterThanOrEqual(0);
      // Only the head of INFO comes back (an enqueue's can be megabytes).
      expect((await mine({ infoChars: 12, limit: 100 }))[0]?.info).toBe(slow.sql.slice(0, 12));
    } finally {
      await slow.end();
    }
  });

  it('answers at most `limit` statements, and none once they end', async () => {
    const marker = `rs_${randomBytes(6).toString('hex')}`;
    const slow = [await sleeping(`${marker}_1`), await sleeping(`${marker}_2`)];
    const mine = async (limit: number) => (await runningStatements(stack.db, { infoChars: 200, limit })).filter((running) => running.info.includes(marker));
    try {
      await waitFor(async () => (await mine(100)).length === 2, 10_000, 'both sleeping statements in the process list');
      expect((await runningStatements(stack.db, { infoChars: 200, limit: 1 })).length).toBe(1);
    } finally {
      for (const statement of slow) await statement.end();
    }
    await waitFor(async () => (await mine(100)).length === 0, 10_000, 'the killed statements to leave the process list');
  });
});

describe('longTransactions', () => {
  /** A transaction open in a session of its own, after a read of `table`; in `database` when given, else in none. */
  async function openTransaction(input: { database?: string; table: string }) {
    const connection = input.database === undefined ? await sessionWithoutDatabase() : await session();
    await connection.query('START TRANSACTION');
    // A locking read: a plain one may not list the transaction in INNODB_TRX at once.
    await connection.query(`SELECT COUNT(*) FROM ${input.table} LOCK IN SHARE MODE`);
    return connection.threadId;
  }

  beforeEach(() => createSchemaMigrations(stack.db));

  it('names a transaction open on this database at least `seconds`, with its session and age', async () => {
    const sessionId = await openTransaction({ database: stack.database, table: 'schema_migrations' });
    // Polled: while other files' tests run, INNODB_TRX may list the new transaction a moment later.
    const found = await vi.waitFor(
      async () => {
        const listed = (await longTransactions(stack.db, { seconds: 0 })).filter((trx) => trx.sessionId === sessionId);
        expect(listed).toEqual([{ trxId: expect.stringMatching(/^\d+$/), sessionId, ageSeconds: expect.any(Number) }]);
        return listed;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(found[0]!.ageSeconds).toBeGreaterThanOrEqual(0);
    // Younger than an hour: not long.
    expect((await longTransactions(stack.db, { seconds: 3_600 })).filter((trx) => trx.sessionId === sessionId)).toEqual([]);
  });

  it("leaves out a transaction whose session uses no database (it names this one's tables): INNODB_TRX does not say which tables", async () => {
    const sessionId = await openTransaction({ table: `\`${stack.database}\`.schema_migrations` });
    expect((await longTransactions(stack.db, { seconds: 0 })).filter((trx) => trx.sessionId === sessionId)).toEqual([]);
  });
});

describe('executeWithLockWait', () => {
  const table = () => `lw_${randomBytes(5).toString('hex')}`;
  const hasColumn = async (name: string, column: string) => {
    const [found] = await stack.sql.query('SELECT 1 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?', [
      name,
      column,
    ]);
    return (found as unknown[]).length === 1;
  };
  const neverRunning = () => false;

  it('runs the statement in a transaction of its own, between setting the lock wait and putting it back', async () => {
    const name = table();
    const db = recordingDb(stack.newDb());
    await executeWithLockWait(db, `CREATE TABLE ${name} (id INT PRIMARY KEY)`, { seconds: 3, mayStillRun: neverRunning });
    expect(db.calls.map((call) => [call.sql, call.params])).toEqual([
      ['SET SESSION lock_wait_timeout = :seconds', { seconds: 3 }],
      [`CREATE TABLE ${name} (id INT PRIMARY KEY)`, {}],
      ['SET SESSION lock_wait_timeout = @@GLOBAL.lock_wait_timeout', {}],
    ]);
    expect(db.stats.byOperation).toMatchObject({ BeginTransaction: 1, CommitTransaction: 1 });
    const [[created]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [
      name,
    ])) as [{ n: number }[], unknown];
    expect(Number(created!.n)).toBe(1);
  });

  it("waits at most `seconds` for a table another transaction holds, then throws the statement's own error, tried once", async () => {
    const name = table();
    await stack.sql.query(`CREATE TABLE ${name} (id INT PRIMARY KEY)`);
    const holder = await session();
    await holder.query('START TRANSACTION');
    await holder.query(`SELECT COUNT(*) FROM ${name}`);
    const alter = `ALTER TABLE ${name} ADD COLUMN probe INT NULL`;
    const db = recordingDb(stack.newDb());
    const error = await executeWithLockWait(db, alter, { seconds: 1, mayStillRun: neverRunning }).catch((thrown: unknown) => thrown);
    // 1205 would make transaction() re-run its work: the statement's error must come out once, as it was.
    expect(error).toBeInstanceOf(DeadlockError);
    expect((error as DeadlockError).mysqlCode).toBe(1205);
    expect(db.calls.filter((call) => call.sql === alter)).toHaveLength(1);
    expect(db.calls.at(-1)!.sql).toBe('SET SESSION lock_wait_timeout = @@GLOBAL.lock_wait_timeout');
    expect(await hasColumn(name, 'probe')).toBe(false);

    await holder.query('COMMIT');
    await executeWithLockWait(stack.newDb(), alter, { seconds: 1, mayStillRun: neverRunning });
    expect(await hasColumn(name, 'probe')).toBe(true);
  });

  it('does not put the setting back while the statement may still run, and throws its error as it was', async () => {
    const db = recordingDb(stack.newDb());
    const missing = `ALTER TABLE ${table()} ADD COLUMN probe INT NULL`;
    const error = await executeWithLockWait(db, missing, { seconds: 1, mayStillRun: () => true }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).mysqlCode).toBe(1146);
    expect(db.calls.map((call) => call.sql)).toEqual(['SET SESSION lock_wait_timeout = :seconds', missing]);
    expect(db.stats.byOperation).toMatchObject({ BeginTransaction: 1, RollbackTransaction: 1 });
  });
});
