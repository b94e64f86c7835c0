import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it, vi } from 'vitest';
import { createMigrateHandler } from '../../handlers/migrate.js';
import { createApp } from '../../lib/app.js';
import { MigrationError, parseMigration } from '../../lib/migrate.js';
import { useStack } from '../support/stack.js';
import { testConfig } from '../support/config.js';
import { MIGRATIONS } from '../support/migrations.js';

const stack = useStack({ migrate: false });
const lines: string[] = [];
const log = { info: (message: string) => lines.push(message) };

const app = () => createApp({ db: stack.db, env: {}, config: testConfig });

it('applies the shipped migrations through the Data API, then finds them applied', async () => {
  const handler = createMigrateHandler(app, { log });
  expect(await handler()).toEqual({
    applied: [...MIGRATIONS],
    skipped: [],
  });
  const [tables] = (await stack.sql.query("SHOW TABLES LIKE 'queue\\_%'")) as any[];
  expect(tables.map((row: Record<string, string>) => Object.values(row)[0]).sort()).toEqual([
    'queue_cancel_requests',
    'queue_group_permits',
    'queue_group_slots',
    'queue_groups',
    'queue_message_outputs',
    'queue_messages',
    'queue_payload_parts',
    'queue_permits',
    'queue_recurring_purges',
    'queue_state',
  ]);
  expect(lines).toContain('migrations up to date');

  expect(await handler()).toEqual({
    applied: [],
    skipped: [...MIGRATIONS],
  });
});

it('throws, so the invoke reports a function error, when a migration fails', async () => {
  const broken = parseMigration('900_broken.sql', 'CREATE TABLE broken_one (id INT)\n-- statement\nTHIS IS NOT SQL\n');
  const handler = createMigrateHandler(app, { log, migrations: { migrations: [broken] } });
  const error = await handler().then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(MigrationError);
  expect((error as Error).message).toMatch(/900_broken failed at statement 2 of 2 \(statements 1–1 took effect/);
  await stack.sql.query('DROP TABLE IF EXISTS broken_one');
});

it('under serverless offline reads the .sql files from the working directory (the project)', async () => {
  const project = await mkdtemp(join(tmpdir(), 'aq-offline-project-'));
  await mkdir(join(project, 'schema', 'migrations'), { recursive: true });
  await writeFile(join(project, 'schema', 'migrations', '950_offline_marker.sql'), 'CREATE TABLE offline_marker (id INT)\n');
  const cwd = process.cwd();
  vi.stubEnv('IS_OFFLINE', 'true');
  vi.stubEnv('MIGRATIONS_DIR', '');
  process.chdir(project);
  try {
    expect(await createMigrateHandler(app, { log })()).toEqual({ applied: ['950_offline_marker'], skipped: [] });
  } finally {
    process.chdir(cwd);
    vi.unstubAllEnvs();
    await rm(project, { recursive: true, force: true });
  }
});
