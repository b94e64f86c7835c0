import { afterAll, expect, it } from 'vitest';
import { dropTestDatabase } from '../../support/database.js';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';
import { MIGRATIONS } from '../../support/migrations.js';

const stack = useStack({ migrate: false });
const created: string[] = [];

afterAll(async () => {
  for (const database of created) await dropTestDatabase(database);
});

it('applies the migrations, then reports the schema up to date', async () => {
  const first = await runCaptured(['migrate'], stackEnv(stack));
  expect(first).toMatchObject({ code: 0, stderr: '' });
  expect(first.stdout).toMatch(/applied 001_queue \(\d+ statements?/);
  expect(first.stdout).toContain(`database ${stack.database} via the local Data API at ${stack.endpoint}: applied ${MIGRATIONS.join(', ')}; 0 already applied`);
  const [tables] = (await stack.sql.query("SHOW TABLES LIKE 'queue_messages'")) as any[];
  expect(tables).toHaveLength(1);

  const again = await runCaptured(['migrate'], stackEnv(stack));
  expect(again.stdout).toContain(`up to date (${MIGRATIONS.length} already applied)`);
  expect(json(await runCaptured(['migrate', '--json'], stackEnv(stack)))).toEqual({
    applied: [],
    skipped: [...MIGRATIONS],
  });
});

it('creates a local database that does not exist yet', async () => {
  const database = `aq_test_cli_${Date.now().toString(36)}`;
  created.push(database);
  const run = await runCaptured(['migrate', '--json'], stackEnv(stack, { DB_NAME: database }));
  expect(json(run)).toEqual({
    applied: [...MIGRATIONS],
    skipped: [],
  });
  const [rows] = (await stack.sql.query('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ?', [database])) as any[];
  expect(Number(rows[0].n)).toBeGreaterThanOrEqual(2);
});

it('refuses a database name that is not a plain identifier', async () => {
  const run = await runCaptured(['migrate'], stackEnv(stack, { DB_NAME: 'x`; DROP DATABASE y' }));
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('is not a plain identifier');
});
