import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalDataApi } from '../dev/data-api/server.js';
import { createDb } from '../lib/db/index.js';
import { DataApiRequestError, StatementTimeoutError, toDatabaseError } from '../lib/db/errors.js';
import {
  alreadyDoneReason,
  defaultMigrationsDir,
  isSameStatement,
  loadMigrations,
  migrate,
  MigrationError,
  parseMigration,
  statementMarker,
} from '../lib/migrate.js';
import { DATABASE_URL } from './support/database.js';
import { RESOURCE_ARN, SECRET_ARN, startStack, useStack } from './support/stack.js';
import { MIGRATIONS } from './support/migrations.js';

describe('parseMigration', () => {
  it('splits on lines that are exactly `-- statement` and drops header comments', () => {
    const migration = parseMigration(
      '007_add_things.sql',
      '-- header\n-- more header\n\nCREATE TABLE a (id INT)\n-- statement\n-- why b\nCREATE TABLE b (\n  -- a column comment stays\n  id INT\n);\n-- statement  \n\n-- statement\n-- statements are not split on this line\nALTER TABLE a ADD COLUMN x INT\n',
    );
    expect(migration).toMatchObject({ version: 7, id: '007_add_things', name: 'add_things' });
    expect(migration.statements).toEqual([
      'CREATE TABLE a (id INT)',
      'CREATE TABLE b (\n  -- a column comment stays\n  id INT\n)',
      'ALTER TABLE a ADD COLUMN x INT',
    ]);
    expect(migration.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('gives the same checksum for CRLF and LF files and another for other text', () => {
    const lf = parseMigration('001_a.sql', 'CREATE TABLE a (id INT)\n');
    expect(parseMigration('001_a.sql', 'CREATE TABLE a (id INT)\r\n').checksum).toBe(lf.checksum);
    expect(parseMigration('001_a.sql', 'CREATE TABLE a (id BIGINT)\n').checksum).not.toBe(lf.checksum);
  });

  it('reads the checksums a migration supersedes from its `-- supersedes` lines', () => {
    const old = 'a'.repeat(64);
    expect(parseMigration('002_b.sql', `-- why\n-- supersedes ${old}\nCREATE TABLE b (id INT)\n`).supersedes).toEqual([old]);
    expect(parseMigration('002_b.sql', 'CREATE TABLE b (id INT)\n').supersedes).toEqual([]);
  });

  it('rejects bad file names and empty files', () => {
    expect(() => parseMigration('queue.sql', 'SELECT 1')).toThrow(MigrationError);
    expect(() => parseMigration('002_empty.sql', '-- nothing\n-- statement\n')).toThrow(/no statements/);
  });

  it('loads the repository migrations in version order', () => {
    const migrations = loadMigrations();
    expect(migrations[0]).toMatchObject({ version: 1, id: '001_queue' });
    expect(migrations[0]!.statements.length).toBeGreaterThanOrEqual(2);
  });
});

/** An error as the SDK throws it for a Data API answer, before lib/db maps it. */
function sdkError(name: string, message: string): Error {
  return Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });
}

describe('alreadyDoneReason', () => {
  const TABLE = 'MySQL 1050, the table exists';
  const COLUMN = 'MySQL 1060, the column exists';
  const INDEX = 'MySQL 1061, the index exists';
  const DROPPED = 'MySQL 1091, the index or column is dropped already';
  const byText = (reason: string) => `${reason}, known by its message: it carried no code`;

  it('takes the MySQL code when the message has one (v2 and v1 formats)', () => {
    expect(alreadyDoneReason(toDatabaseError(sdkError('DatabaseErrorException', "Table 'slow' already exists; Error code: 1050; SQLState: 42S01")))).toBe(
      TABLE,
    );
    expect(alreadyDoneReason(toDatabaseError(sdkError('BadRequestException', "Database error code: 1061. Message: Duplicate key name 'ix_a'")))).toBe(INDEX);
  });

  it.each([
    ['BadRequestException', "Table 'queue_permits' already exists", TABLE],
    ['BadRequestException', "Duplicate column name 'group_key'", COLUMN],
    ['BadRequestException', "Duplicate key name 'ix_queue_messages_dead'", INDEX],
    // MySQL 8.0's text, then MariaDB's for an index, a column and a foreign key.
    ['BadRequestException', "Can't DROP 'ix_queue_messages_dead'; check that column/key exists", DROPPED],
    ['BadRequestException', "Can't DROP INDEX `ix_queue_messages_dead`; check that it exists", DROPPED],
    ['BadRequestException', "Can't DROP COLUMN `old`; check that it exists", DROPPED],
    ['DatabaseErrorException', "Can't DROP FOREIGN KEY `fk_parts`; check that it exists", DROPPED],
    // Prefixed: by a driver, or Serverless v1's code 0 (which says nothing).
    ['DatabaseErrorException', "(conn=4711) Duplicate column name 'group_key'", COLUMN],
    ['BadRequestException', "java.sql.SQLSyntaxErrorException: Duplicate key name 'ix_a'", INDEX],
    ['BadRequestException', "Database error code: 0. Message: Table 'slow' already exists", TABLE],
  ])('recognises %s "%s" by its text', (name, message, reason) => {
    const error = toDatabaseError(sdkError(name, message));
    expect(error.mysqlCode === undefined || error.mysqlCode === 0).toBe(true);
    expect(alreadyDoneReason(error)).toBe(byText(reason));
    // The same, handed over as the SDK threw it.
    expect(alreadyDoneReason(sdkError(name, message))).toBe(byText(reason));
  });

  it('answers undefined for anything else', () => {
    const none = [
      sdkError('BadRequestException', "Duplicate entry 'a' for key 'PRIMARY'"),
      sdkError('BadRequestException', "Table 'a.b' doesn't exist"),
      sdkError('BadRequestException', 'already exists.'),
      // A code decides alone, even when the text quotes one of the messages.
      sdkError('DatabaseErrorException', "You have an error in your SQL syntax near 'Duplicate key name 'x''; Error code: 1064; SQLState: 42000"),
      sdkError('StatementTimeoutException', "Table 'a' already exists"),
      new MigrationError("Table 'a' already exists"),
      "Table 'a' already exists",
      undefined,
    ];
    for (const error of none) expect(alreadyDoneReason(error)).toBeUndefined();
    expect(alreadyDoneReason(new StatementTimeoutError("Table 'a' already exists"))).toBeUndefined();
  });
});

describe('isSameStatement', () => {
  const statement = 'ALTER TABLE queue_messages\n  -- why\n  ADD KEY ix_queue_messages_group (queue, group_head, id), ALGORITHM=INPLACE, LOCK=NONE';
  const marker = statementMarker({ id: '006_groups_and_permits' }, 4);

  it('matches by the marker, wherever the comment ends up', () => {
    expect(marker).toBe('/* aurora-queue 006_groups_and_permits statement 5 */');
    expect(isSameStatement(`${marker}\n${statement}`, statement, marker)).toBe(true);
    expect(isSameStatement(`/* from the driver */ ${marker} ALTER TABLE`, statement, marker)).toBe(true);
    expect(isSameStatement(`${statementMarker({ id: '006_groups_and_permits' }, 5)}\nALTER TABLE x`, statement, marker)).toBe(false);
  });

  it('matches the text as sent, re-spaced, without its comments, or cut short', () => {
    expect(isSameStatement(statement, statement)).toBe(true);
    expect(
      isSameStatement('ALTER TABLE queue_messages ADD KEY ix_queue_messages_group (queue, group_head, id), ALGORITHM=INPLACE, LOCK=NONE', statement, marker),
    ).toBe(true);
    expect(isSameStatement('ALTER TABLE queue_messages ADD KEY ix_queue_messages_group(queue,group_head,id),ALGORITHM=INPLACE,LOCK=NONE;', statement)).toBe(
      true,
    );
    expect(isSameStatement(`${marker} ${statement}`.slice(0, 160), statement)).toBe(true);
    expect(isSameStatement('ALTER TABLE queue_messages ADD KEY ix_queue_messages_group (queue, group_head', statement)).toBe(true);
  });

  it('does not match another statement, nor a head too short to tell', () => {
    expect(isSameStatement('ALTER TABLE queue_messages ADD KEY ix_queue_messages_dead (dead_queue, id), ALGORITHM=INPLACE, LOCK=NONE', statement)).toBe(false);
    expect(isSameStatement('ALTER TABLE queue_messages ADD KEY', statement)).toBe(false);
    expect(isSameStatement('SELECT ID, TIME, LEFT(INFO, 1024) FROM information_schema.PROCESSLIST', statement)).toBe(false);
    expect(isSameStatement('/* only a comment */', statement)).toBe(false);
    expect(isSameStatement(`${statement}, ADD COLUMN x INT`, statement)).toBe(false);
  });
});

/**
 * Between the SDK and the local Data API server: makes it answer as a Data API might that the
 * project has not seen. `stripCodes`: an SQL error comes back as BadRequestException whose
 * message is the bare MySQL text (no `Error code: N; SQLState: S`). `respace`: the SQL reaches
 * MySQL without its comments and with its whitespace collapsed, so INFO in the process list
 * differs from the text sent.
 */
async function startRewritingProxy(target: string, options: { stripCodes?: boolean; respace?: boolean }) {
  const handle = async (request: http.IncomingMessage, response: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body = Buffer.concat(chunks).toString('utf8');
    if (options.respace && request.url === '/Execute') {
      const input = JSON.parse(body) as { sql: string };
      input.sql = input.sql
        .replace(/\/\*[\s\S]*?\*\//g, ' ')
        .replace(/--\s[^\n]*/g, ' ')
        .replace(/\s+/g, ' ')
        .trim();
      body = JSON.stringify(input);
    }
    const headers = { ...request.headers } as Record<string, string>;
    delete headers['content-length'];
    delete headers.host;
    const upstream = await fetch(`${target}${request.url}`, { method: request.method, headers, body: request.method === 'POST' ? body : undefined });
    let text = await upstream.text();
    let errorType = upstream.headers.get('x-amzn-errortype') ?? undefined;
    if (options.stripCodes && errorType === 'DatabaseErrorException') {
      const error = JSON.parse(text) as { message: string };
      error.message = error.message.replace(/; Error code: \d+; SQLState: \w+$/, '');
      text = JSON.stringify(error);
      errorType = 'BadRequestException';
    }
    const out: Record<string, string> = { 'content-type': 'application/json' };
    const requestId = upstream.headers.get('x-amzn-requestid');
    if (requestId !== null) out['x-amzn-RequestId'] = requestId;
    if (errorType !== undefined) out['x-amzn-ErrorType'] = errorType;
    response.writeHead(upstream.status, out).end(text);
  };
  // A failure is an unhandled rejection: it fails the run.
  const server = http.createServer((request, response) => void handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const migrationDirs: string[] = [];
afterAll(() => {
  for (const dir of migrationDirs) rmSync(dir, { recursive: true, force: true });
});

/** A temporary migrations directory holding `files` (name to SQL), removed after the file's tests. */
function migrationDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'aq-migrations-'));
  migrationDirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

describe('migrate on the real stack', () => {
  const stack = useStack({ migrate: false });
  async function tables(): Promise<string[]> {
    const [rows] = await stack.sql.query('SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY table_name');
    return (rows as { name: string }[]).map((row) => row.name);
  }

  async function recorded(): Promise<{ version: number; name: string; applied: boolean }[]> {
    const [rows] = await stack.sql.query('SELECT version, name, applied_at IS NOT NULL AS applied FROM schema_migrations ORDER BY version');
    return (rows as { version: number; name: string; applied: number }[]).map((row) => ({ ...row, applied: row.applied === 1 }));
  }

  it('applies the repository migrations to an empty database, then does nothing', async () => {
    const lines: string[] = [];
    const first = await migrate(stack.newDb(), { log: (line) => lines.push(line) });
    expect(first).toEqual({
      applied: [...MIGRATIONS],
      skipped: [],
    });
    expect(await tables()).toEqual(expect.arrayContaining(['queue_messages', 'queue_state', 'schema_migrations']));
    expect(lines[0]).toMatch(/^applied 001_queue/);

    const db = stack.newDb();
    expect(await migrate(db)).toEqual({
      applied: [],
      skipped: [...MIGRATIONS],
    });
    // Only reads (the CREATE TABLE IF NOT EXISTS, then one per migration): nothing re-applied.
    expect(db.stats.calls).toBe(1 + MIGRATIONS.length);
  });

  it('applies each migration exactly once when two runs race', async () => {
    const dir = migrationDir({
      '100_race_a.sql': 'CREATE TABLE race_a (id INT PRIMARY KEY)\n-- statement\nINSERT INTO race_a (id) VALUES (1)',
      '101_race_b.sql': 'CREATE TABLE race_b (id INT PRIMARY KEY)\n-- statement\nINSERT INTO race_b (id) VALUES (1)',
      '102_race_c.sql': 'INSERT INTO race_a (id) VALUES (2)',
    });
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.min(ms, 20)));
    const [one, two] = await Promise.all([migrate(stack.newDb(), { dir, sleep }), migrate(stack.newDb(), { dir, sleep })]);

    const ids = ['100_race_a', '101_race_b', '102_race_c'];
    // Each run accounts for every migration, and between them each was applied once.
    expect([...one.applied, ...one.skipped].sort()).toEqual(ids);
    expect([...two.applied, ...two.skipped].sort()).toEqual(ids);
    expect([...one.applied, ...two.applied].sort()).toEqual(ids);
    // The INSERTs would have failed on the primary key had a statement run twice.
    const [rows] = await stack.sql.query('SELECT id FROM race_a ORDER BY id');
    expect(rows).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('applies the repository migrations once when two runs start on an empty database', async () => {
    const fresh = await startStack({ migrate: false });
    try {
      const runs = await Promise.all([migrate(fresh.newDb()), migrate(fresh.newDb())]);
      expect(
        runs
          .map((run) => run.applied)
          .flat()
          .sort(),
      ).toEqual([...MIGRATIONS]);
      expect(
        runs
          .map((run) => run.skipped)
          .flat()
          .sort(),
      ).toEqual([...MIGRATIONS]);
      const [rows] = await fresh.sql.query('SELECT version, applied_at IS NOT NULL AS applied FROM schema_migrations ORDER BY version');
      expect(rows).toEqual(MIGRATIONS.map((id) => ({ version: Number(id.slice(0, 3)), applied: 1 })));
    } finally {
      await fresh.close();
    }
  });

  it('refuses an applied migration whose file changed', async () => {
    const dir = migrationDir({ '200_edit.sql': 'CREATE TABLE edited (id INT)' });
    expect((await migrate(stack.newDb(), { dir })).applied).toEqual(['200_edit']);
    writeFileSync(join(dir, '200_edit.sql'), 'CREATE TABLE edited (id BIGINT)');
    await expect(migrate(stack.newDb(), { dir })).rejects.toThrow(/200_edit was applied with checksum .* must not be edited/);
  });

  it('releases the claim of a migration that failed, so a fixed file applies on the next run', async () => {
    const dir = migrationDir({ '300_broken.sql': 'CREATE TABLE broken_1 (id INT)\n-- statement\nCREATE TABLE broken_2 (id INT NOT_A_TYPE)' });
    const error = await migrate(stack.newDb(), { dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/300_broken failed at statement 2 of 2 \(statements 1–1 took effect/);
    expect((await recorded()).find((row) => row.version === 300)).toBeUndefined();

    writeFileSync(join(dir, '300_broken.sql'), 'CREATE TABLE IF NOT EXISTS broken_1 (id INT)\n-- statement\nCREATE TABLE broken_2 (id INT)');
    expect(await migrate(stack.newDb(), { dir })).toEqual({ applied: ['300_broken'], skipped: [] });
  });

  it('waits for a migration another run has claimed and skips it once that run finishes', async () => {
    const dir = migrationDir({ '400_slow.sql': 'CREATE TABLE slow (id INT)' });
    const [migration] = loadMigrations(dir);
    // Another run's claim, as it looks while that run is applying the migration.
    await stack.sql.query(
      "INSERT INTO schema_migrations (version, name, checksum, claimed_by, claimed_at, applied_at) VALUES (400, 'slow', ?, 'other-run', UTC_TIMESTAMP(3), NULL)",
      [migration!.checksum],
    );
    let polls = 0;
    const lines: string[] = [];
    const result = await migrate(stack.newDb(), {
      dir,
      log: (line) => lines.push(line),
      sleep: async () => {
        if (++polls === 3) {
          await stack.sql.query('CREATE TABLE slow (id INT)');
          await stack.sql.query('UPDATE schema_migrations SET applied_at = UTC_TIMESTAMP(3) WHERE version = 400');
        }
      },
    });
    expect(result).toEqual({ applied: [], skipped: ['400_slow'] });
    expect(polls).toBe(3);
    expect(lines).toEqual(['waiting for another run to apply 400_slow']);
  });

  it('gives up on a claim nobody finishes, saying how to clear it', async () => {
    const dir = migrationDir({ '500_stuck.sql': 'CREATE TABLE stuck (id INT)' });
    await stack.sql.query(
      "INSERT INTO schema_migrations (version, name, checksum, claimed_by, claimed_at, applied_at) VALUES (500, 'stuck', 'x', 'dead-run', UTC_TIMESTAMP(3), NULL)",
    );
    const error = await migrate(stack.newDb(), { dir, waitTimeoutMs: 3_000, sleep: async () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/DELETE FROM schema_migrations WHERE version = 500 AND applied_at IS NULL/);
  });

  it('accepts a database that applied the first text of 002 (STORED column and its index) and leaves it as it is', async () => {
    const old = await startStack({ migrate: false });
    try {
      // The migrations as they were before 002 was made online.
      const dir = migrationDir({});
      for (const file of ['001_queue.sql', '003_drain_activity.sql', '004_payload_parts.sql'])
        copyFileSync(join(defaultMigrationsDir(), file), join(dir, file));
      writeFileSync(
        join(dir, '002_dead_letter_index.sql'),
        execFileSync('git', ['show', '65f1be3:schema/migrations/002_dead_letter_index.sql'], { encoding: 'utf8' }),
      );
      expect((await migrate(old.newDb(), { dir })).applied).toHaveLength(4);

      const lines: string[] = [];
      expect(await migrate(old.newDb(), { log: (line) => lines.push(line) })).toEqual({
        applied: MIGRATIONS.slice(4),
        skipped: MIGRATIONS.slice(0, 4),
      });
      expect(lines).toContainEqual(
        expect.stringMatching(/^002_dead_letter_index was applied from an earlier text \(checksum 231d596cbd8e…\) that this one supersedes$/),
      );
      expect(lines).toContain('005_dead_letter_key statement 1: already took effect (MySQL 1061, the index exists)');
      const [columns] = await old.sql.query(
        "SELECT extra FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'queue_messages' AND column_name = 'dead_queue'",
      );
      expect(columns).toEqual([{ extra: 'STORED GENERATED' }]);
      expect((await migrate(old.newDb())).applied).toEqual([]);
    } finally {
      await old.close();
    }
  });

  it('refuses a recorded checksum that the file does not list as superseded', async () => {
    const dir = migrationDir({ '600_edit.sql': 'CREATE TABLE edited_600 (id INT)' });
    const first = loadMigrations(dir)[0]!;
    await migrate(stack.newDb(), { dir });
    writeFileSync(join(dir, '600_edit.sql'), `-- supersedes ${first.checksum}\nCREATE TABLE IF NOT EXISTS edited_600 (id INT)`);
    expect((await migrate(stack.newDb(), { dir })).skipped).toEqual(['600_edit']);
    writeFileSync(join(dir, '600_edit.sql'), `-- supersedes ${'0'.repeat(64)}\nCREATE TABLE IF NOT EXISTS edited_600 (id INT)`);
    await expect(migrate(stack.newDb(), { dir })).rejects.toThrow(/600_edit was applied with checksum/);
  });

  it('takes a step that already took effect as done when its error comes back without a code', async () => {
    const proxy = await startRewritingProxy(stack.endpoint, { stripCodes: true });
    try {
      const db = createDb({ endpoint: proxy.url, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database });
      // An earlier run's statements took effect after it stopped waiting for them (or it died).
      await stack.sql.query('CREATE TABLE nocode_900 (id INT, c INT, KEY ix_nocode_c (c))');
      const dir = migrationDir({
        '900_nocode.sql': [
          'CREATE TABLE nocode_900 (id INT)',
          'ALTER TABLE nocode_900 ADD COLUMN c INT',
          'ALTER TABLE nocode_900 ADD KEY ix_nocode_c (c)',
          'ALTER TABLE nocode_900 DROP INDEX ix_nocode_gone',
        ].join('\n-- statement\n'),
      });
      // The proxy does what it says: the bare MySQL text, no code.
      const bare = await db.execute('CREATE TABLE nocode_900 (id INT)').catch((e: unknown) => e);
      expect(bare).toBeInstanceOf(DataApiRequestError);
      expect(bare).toMatchObject({ mysqlCode: undefined, message: "Table 'nocode_900' already exists" });

      const lines: string[] = [];
      expect(await migrate(db, { dir, log: (line) => lines.push(line) })).toEqual({ applied: ['900_nocode'], skipped: [] });
      const known = ', known by its message: it carried no code)';
      expect(lines.slice(0, 4)).toEqual([
        `900_nocode statement 1: already took effect (MySQL 1050, the table exists${known}`,
        `900_nocode statement 2: already took effect (MySQL 1060, the column exists${known}`,
        `900_nocode statement 3: already took effect (MySQL 1061, the index exists${known}`,
        `900_nocode statement 4: already took effect (MySQL 1091, the index or column is dropped already${known}`,
      ]);
    } finally {
      await proxy.close();
    }
  });

  describe('a DDL statement that outlasts its Data API call', () => {
    // 1.5 s of work against a 300 ms call limit: each call ends in StatementTimeoutException while
    // the statement runs on (continueAfterTimeout), as a long ALTER does against the real 45 s.
    const slowStatement = (table: string) => `CREATE TABLE ${table} AS SELECT SLEEP(1.5) AS slept`;

    async function shortCallServer() {
      const server = await startLocalDataApi({ port: 0, databaseUrl: DATABASE_URL, callTimeoutMs: 300 });
      const newDb = () => createDb({ endpoint: server.url, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database });
      return { server, newDb };
    }

    it('is waited for, then found done, in the same run', async () => {
      const { server, newDb } = await shortCallServer();
      try {
        const dir = migrationDir({ '700_slow.sql': `${slowStatement('slow_700')}\n-- statement\nINSERT INTO slow_700 (slept) VALUES (1)` });
        const lines: string[] = [];
        expect(await migrate(newDb(), { dir, log: (line) => lines.push(line) })).toEqual({ applied: ['700_slow'], skipped: [] });
        expect(lines).toContain('700_slow statement 1: already took effect (MySQL 1050, the table exists)');
        const [rows] = await stack.sql.query('SELECT COUNT(*) AS n FROM slow_700');
        expect(rows).toEqual([{ n: 2 }]);
        expect((await migrate(newDb(), { dir })).skipped).toEqual(['700_slow']);
      } finally {
        await server.close();
      }
    });

    it('still running from a run that gave up on it: a re-run notices, waits for it and carries on', async () => {
      const { server, newDb } = await shortCallServer();
      try {
        const dir = migrationDir({ '800_slow.sql': slowStatement('slow_800') });
        // The earlier run: its call timed out and it stopped (its claim row was released).
        const earlier = await newDb()
          .execute(slowStatement('slow_800'), undefined, { continueAfterTimeout: true })
          .catch((e: unknown) => e);
        expect(earlier).toBeInstanceOf(StatementTimeoutError);

        const lines: string[] = [];
        expect(await migrate(newDb(), { dir, log: (line) => lines.push(line) })).toEqual({ applied: ['800_slow'], skipped: [] });
        expect(lines).toContain('the statement is running in another session (an earlier call); waiting for it');
        expect(lines).toContain('800_slow statement 1: already took effect (MySQL 1050, the table exists)');
        expect((await migrate(newDb(), { dir })).skipped).toEqual(['800_slow']);
      } finally {
        await server.close();
      }
    });

    it('still running, its SQL re-spaced and its errors without codes on the way: a re-run notices, waits for it and carries on', async () => {
      const { server } = await shortCallServer();
      const proxy = await startRewritingProxy(server.url, { stripCodes: true, respace: true });
      try {
        const newDb = () => createDb({ endpoint: proxy.url, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database });
        const statement = 'CREATE TABLE slow_810\n  -- kept apart from its SELECT\n  AS   SELECT SLEEP(1.5) AS slept';
        const dir = migrationDir({ '810_slow.sql': statement });
        const earlier = await newDb()
          .execute(statement, undefined, { continueAfterTimeout: true })
          .catch((e: unknown) => e);
        expect(earlier).toBeInstanceOf(StatementTimeoutError);

        const lines: string[] = [];
        expect(await migrate(newDb(), { dir, log: (line) => lines.push(line) })).toEqual({ applied: ['810_slow'], skipped: [] });
        expect(lines).toContain('the statement is running in another session (an earlier call); waiting for it');
        expect(lines).toContain('810_slow statement 1: already took effect (MySQL 1050, the table exists, known by its message: it carried no code)');
      } finally {
        await proxy.close();
        await server.close();
      }
    });
  });
});

describe('DDL on a table a transaction holds (metadata lock)', () => {
  const stack = useStack();
  /**
   * Another session reads queue_messages in a transaction it keeps open: under REPEATABLE READ it
   * holds the table's shared metadata lock until it ends, which an ALTER (even INSTANT) must wait for.
   */
  async function holdQueueTable() {
    const connection = await stack.sql.getConnection();
    await connection.query('BEGIN');
    await connection.query('SELECT COUNT(*) FROM queue_messages');
    let ended = false;
    return {
      sessionId: connection.threadId,
      async end() {
        if (ended) return;
        ended = true;
        await connection.query('COMMIT');
        connection.release();
      },
    };
  }

  const INSERT = `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at)
VALUES (:id, 'live', 'sms.send', '{"n": 1}', 8, 'waiting', 0, 0, 3, :now, :now, :now)`;

  /** Enqueues one after another through the Data API until `work` settles; their latencies. */
  async function enqueueDuring<T>(work: Promise<T>): Promise<{ outcome: PromiseSettledResult<T>; latencies: number[] }> {
    const latencies: number[] = [];
    let running = true;
    const outcome = Promise.allSettled([work]).then(([result]) => {
      running = false;
      return result;
    });
    const db = stack.newDb();
    const enqueuer = async () => {
      while (running) {
        const started = performance.now();
        await db.execute(INSERT, { id: randomUUID(), now: new Date() });
        latencies.push(performance.now() - started);
      }
    };
    await Promise.all([enqueuer(), enqueuer()]);
    return { outcome: await outcome, latencies };
  }

  async function hasIndex(name: string): Promise<boolean> {
    const [rows] = await stack.sql.query(
      "SELECT DISTINCT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'queue_messages' AND index_name = ?",
      [name],
    );
    return (rows as unknown[]).length === 1;
  }

  /** The short lock wait (1 s here) plus the Data API round trips: far below a blocked enqueue's wait. */
  const MAX_ENQUEUE_MS = 1_800;

  it('gives up after its tries with a clear message while the transaction stays open; enqueues wait at most the short lock wait meanwhile', async () => {
    const holder = await holdQueueTable();
    try {
      const dir = migrationDir({ '910_blocked.sql': 'ALTER TABLE queue_messages ADD KEY ix_blocked_910 (created_at), ALGORITHM=INPLACE, LOCK=NONE' });
      const lines: string[] = [];
      // The holder is young (under longTransactionSeconds), so every try goes to the lock.
      const run = migrate(stack.newDb(), {
        dir,
        log: (line) => lines.push(line),
        lockWaitSeconds: 1,
        lockRetryDelaysMs: [300, 300],
        longTransactionSeconds: 3_600,
      });
      const { outcome, latencies } = await enqueueDuring(run);

      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as Error;
      expect(error).toBeInstanceOf(MigrationError);
      expect(error.message).toMatch(
        /^Migration 910_blocked failed at statement 1 of 1: gave up after 3 tries: each time another session held the table's metadata lock for longer than 1 s \(MySQL 1205\)\. End the transaction that holds it/,
      );
      expect(lines).toEqual([
        "910_blocked statement 1: try 1 of 3 waited 1 s for its table's lock and gave up (MySQL 1205); trying again in 300 ms",
        "910_blocked statement 1: try 2 of 3 waited 1 s for its table's lock and gave up (MySQL 1205); trying again in 300 ms",
      ]);
      expect(latencies.length).toBeGreaterThan(4);
      // Some enqueues did queue behind a waiting ALTER (the lock is real), and none for longer than its wait.
      expect(Math.max(...latencies)).toBeGreaterThan(500);
      expect(Math.max(...latencies)).toBeLessThan(MAX_ENQUEUE_MS);
      expect(await hasIndex('ix_blocked_910')).toBe(false);
      const [claims] = await stack.sql.query('SELECT version FROM schema_migrations WHERE version = 910');
      expect(claims).toEqual([]);
    } finally {
      await holder.end();
    }
  }, 30_000);

  it('tries again until the transaction ends, then applies; enqueues go on throughout', async () => {
    const holder = await holdQueueTable();
    const ends = setTimeout(() => void holder.end(), 2_500);
    try {
      const dir = migrationDir({ '911_later.sql': 'ALTER TABLE queue_messages ADD KEY ix_later_911 (created_at), ALGORITHM=INPLACE, LOCK=NONE' });
      const lines: string[] = [];
      const run = migrate(stack.newDb(), {
        dir,
        log: (line) => lines.push(line),
        lockWaitSeconds: 1,
        lockRetryDelaysMs: [300, 300, 300, 300, 300],
        longTransactionSeconds: 3_600,
      });
      const { outcome, latencies } = await enqueueDuring(run);

      expect(outcome).toEqual({ status: 'fulfilled', value: { applied: ['911_later'], skipped: [] } });
      expect(lines.filter((line) => line.includes('gave up (MySQL 1205); trying again in 300 ms')).length).toBeGreaterThanOrEqual(1);
      expect(lines.at(-1)).toMatch(/^applied 911_later/);
      expect(await hasIndex('ix_later_911')).toBe(true);
      expect(Math.max(...latencies)).toBeLessThan(MAX_ENQUEUE_MS);
    } finally {
      clearTimeout(ends);
      await holder.end();
    }
  }, 30_000);

  it('holds back while a long transaction is open on the database, names it, and fails clearly when it does not end', async () => {
    const holder = await holdQueueTable();
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_300));
      const dir = migrationDir({ '912_long.sql': 'ALTER TABLE queue_messages ADD KEY ix_long_912 (created_at), ALGORITHM=INPLACE, LOCK=NONE' });
      const lines: string[] = [];
      const error = await migrate(stack.newDb(), {
        dir,
        log: (line) => lines.push(line),
        lockWaitSeconds: 1,
        lockRetryDelaysMs: [200, 200],
        longTransactionSeconds: 1,
      }).catch((e: unknown) => e);

      const named = new RegExp(`transaction \\d+ \\(session ${holder.sessionId}, open \\d+ s\\)`);
      // Held back without touching the table (no lock wait, so no stall), then one try at the end.
      expect(lines).toHaveLength(2);
      for (const [index, line] of lines.entries()) {
        expect(line).toMatch(
          new RegExp(`^912_long statement 1: try ${index + 1} of 3 held back by ${named.source}, which may hold its table's lock; waiting 200 ms$`),
        );
      }
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(
        /gave up after 3 tries: each time another session held the table's metadata lock for longer than 1 s \(MySQL 1205\); long transactions seen on this database: /,
      );
      expect((error as Error).message).toMatch(named);
    } finally {
      await holder.end();
    }
  }, 30_000);

  it('without the PROCESS privilege: skips the long-transaction check once, saying so, and still applies', async () => {
    const user = `aq_noproc_${randomUUID().slice(0, 8)}`;
    await stack.sql.query(`CREATE USER '${user}'@'%' IDENTIFIED BY 'pw'`);
    await stack.sql.query(`CREATE USER '${user}'@'localhost' IDENTIFIED BY 'pw'`);
    for (const host of ['%', 'localhost']) await stack.sql.query(`GRANT ALL ON \`${stack.database}\`.* TO '${user}'@'${host}'`);
    const server = await startLocalDataApi({ port: 0, databaseUrl: `mysql://${user}:pw@127.0.0.1:3306` });
    try {
      const db = createDb({ endpoint: server.url, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database });
      const dir = migrationDir({
        '913_noproc.sql':
          'ALTER TABLE queue_messages ADD KEY ix_noproc_913 (created_at), ALGORITHM=INPLACE, LOCK=NONE\n-- statement\nALTER TABLE queue_messages DROP INDEX ix_noproc_913, ALGORITHM=INPLACE, LOCK=NONE',
      });
      const lines: string[] = [];
      expect(await migrate(db, { dir, log: (line) => lines.push(line), lockWaitSeconds: 1 })).toEqual({ applied: ['913_noproc'], skipped: [] });
      expect(lines.filter((line) => line.startsWith('cannot look for long transactions'))).toEqual([
        'cannot look for long transactions before DDL (information_schema.INNODB_TRX needs the PROCESS privilege); skipping that check: each DDL statement still waits at most 1 s for its lock',
      ]);
    } finally {
      await server.close();
      await stack.sql.query(`DROP USER '${user}'@'%', '${user}'@'localhost'`);
    }
  }, 30_000);
});
