import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalDataApi } from '../dev/data-api/server.js';
import { createDb } from '../lib/db/index.js';
import { StatementTimeoutError } from '../lib/db/errors.js';
import { defaultMigrationsDir, loadMigrations, migrate, MigrationError, parseMigration } from '../lib/migrate.js';
import { DATABASE_URL } from './support/database.js';
import { RESOURCE_ARN, SECRET_ARN, startStack, useStack } from './support/stack.js';

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

describe('migrate on the real stack', () => {
  const stack = useStack({ migrate: false });
  const dirs: string[] = [];

  afterAll(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  function migrationDir(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'aq-migrations-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

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
    expect(first).toEqual({ applied: ['001_queue', '002_dead_letter_index', '003_drain_activity', '004_payload_parts', '005_dead_letter_key', '006_groups_and_permits', '007_group_leases', '008_recurring_purges'], skipped: [] });
    expect(await tables()).toEqual(expect.arrayContaining(['queue_messages', 'queue_state', 'schema_migrations']));
    expect(lines[0]).toMatch(/^applied 001_queue/);

    const db = stack.newDb();
    expect(await migrate(db)).toEqual({ applied: [], skipped: ['001_queue', '002_dead_letter_index', '003_drain_activity', '004_payload_parts', '005_dead_letter_key', '006_groups_and_permits', '007_group_leases', '008_recurring_purges'] });
    // Only reads (the CREATE TABLE IF NOT EXISTS, then one per migration): nothing re-applied.
    expect(db.stats.calls).toBe(1 + 8);
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
      expect(runs.map((run) => run.applied).flat().sort()).toEqual(['001_queue', '002_dead_letter_index', '003_drain_activity', '004_payload_parts', '005_dead_letter_key', '006_groups_and_permits', '007_group_leases', '008_recurring_purges']);
      expect(runs.map((run) => run.skipped).flat().sort()).toEqual(['001_queue', '002_dead_letter_index', '003_drain_activity', '004_payload_parts', '005_dead_letter_key', '006_groups_and_permits', '007_group_leases', '008_recurring_purges']);
      const [rows] = await fresh.sql.query('SELECT version, applied_at IS NOT NULL AS applied FROM schema_migrations ORDER BY version');
      expect(rows).toEqual([
        { version: 1, applied: 1 },
        { version: 2, applied: 1 },
        { version: 3, applied: 1 },
        { version: 4, applied: 1 },
        { version: 5, applied: 1 },
        { version: 6, applied: 1 },
        { version: 7, applied: 1 },
        { version: 8, applied: 1 },
      ]);
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
    await stack.sql.query("INSERT INTO schema_migrations (version, name, checksum, claimed_by, claimed_at, applied_at) VALUES (400, 'slow', ?, 'other-run', UTC_TIMESTAMP(3), NULL)", [migration!.checksum]);
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
    await stack.sql.query("INSERT INTO schema_migrations (version, name, checksum, claimed_by, claimed_at, applied_at) VALUES (500, 'stuck', 'x', 'dead-run', UTC_TIMESTAMP(3), NULL)");
    const error = await migrate(stack.newDb(), { dir, waitTimeoutMs: 3_000, sleep: async () => {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/DELETE FROM schema_migrations WHERE version = 500 AND applied_at IS NULL/);
  });

  it('accepts a database that applied the first text of 002 (STORED column and its index) and leaves it as it is', async () => {
    const old = await startStack({ migrate: false });
    try {
      // The migrations as they were before 002 was made online.
      const dir = migrationDir({});
      for (const file of ['001_queue.sql', '003_drain_activity.sql', '004_payload_parts.sql']) copyFileSync(join(defaultMigrationsDir(), file), join(dir, file));
      writeFileSync(join(dir, '002_dead_letter_index.sql'), execFileSync('git', ['show', '65f1be3:schema/migrations/002_dead_letter_index.sql'], { encoding: 'utf8' }));
      expect((await migrate(old.newDb(), { dir })).applied).toHaveLength(4);

      const lines: string[] = [];
      expect(await migrate(old.newDb(), { log: (line) => lines.push(line) })).toEqual({
        applied: ['005_dead_letter_key', '006_groups_and_permits', '007_group_leases', '008_recurring_purges'],
        skipped: ['001_queue', '002_dead_letter_index', '003_drain_activity', '004_payload_parts'],
      });
      expect(lines).toContainEqual(expect.stringMatching(/^002_dead_letter_index was applied from an earlier text \(checksum 231d596cbd8e…\) that this one supersedes$/));
      expect(lines).toContain('005_dead_letter_key statement 1: already took effect (MySQL 1061, the index exists)');
      const [columns] = await old.sql.query("SELECT extra FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'queue_messages' AND column_name = 'dead_queue'");
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
        const earlier = await newDb().execute(slowStatement('slow_800'), undefined, { continueAfterTimeout: true }).catch((e: unknown) => e);
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
  });
});
