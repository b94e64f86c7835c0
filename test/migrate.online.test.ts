/**
 * The migrations on a queue that is in use: 200,000 messages already in queue_messages and
 * enqueues running all along. Every statement after 001 is INSTANT or INPLACE with LOCK=NONE, so
 * no enqueue waits for the migration; a STORED generated column (002's first text) would copy the
 * table and hold every write until the copy ends.
 */
import { mkdtempSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { seedDueMessages } from '../bench/lib/seed.js';
import { uuidv7 } from '../lib/ids.js';
import { defaultMigrationsDir, migrate } from '../lib/migrate.js';
import { useStack } from './support/stack.js';
import { MIGRATIONS } from './support/migrations.js';

const stack = useStack({ migrate: false });
const onlyFirst = mkdtempSync(join(tmpdir(), 'aq-migrations-'));
afterAll(() => rmSync(onlyFirst, { recursive: true, force: true }));

const MESSAGES = 200_000;
/** Generous: a blocked write waits for the whole migration; an unblocked one takes milliseconds. */
const MAX_ENQUEUE_MS = 2_000;

/** An enqueue as 001's columns allow (the product's enqueue needs 004's), through the Data API. */
const INSERT = `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at)
VALUES (:id, 'live', 'sms.send', '{"n": 1}', 8, 'waiting', 0, 0, 3, :now, :now, :now)`;

it(`migrates a queue holding ${MESSAGES.toLocaleString('en')} messages while enqueues go on, then finds nothing to do`, async () => {
  copyFileSync(join(defaultMigrationsDir(), '001_queue.sql'), join(onlyFirst, '001_queue.sql'));
  expect((await migrate(stack.newDb(), { dir: onlyFirst })).applied).toEqual(['001_queue']);
  await seedDueMessages(stack.sql, 'backlog', MESSAGES);

  const latencies: number[] = [];
  let migrating = true;
  const enqueuer = async () => {
    const db = stack.newDb();
    while (migrating) {
      const started = performance.now();
      await db.execute(INSERT, { id: uuidv7(), now: new Date() });
      latencies.push(performance.now() - started);
    }
  };
  const enqueuers = [enqueuer(), enqueuer(), enqueuer()];

  const lines: string[] = [];
  const started = performance.now();
  let result;
  try {
    result = await migrate(stack.newDb(), { log: (line) => lines.push(line) });
  } finally {
    migrating = false;
    await Promise.all(enqueuers);
  }
  const migrationMs = performance.now() - started;
  const max = Math.max(...latencies);
  console.log(
    `migration ${migrationMs.toFixed(0)} ms on ${MESSAGES} messages; ${latencies.length} enqueues meanwhile, slowest ${max.toFixed(0)} ms\n${lines.join('\n')}`,
  );

  expect(result.applied).toEqual(MIGRATIONS.slice(1));
  expect(latencies.length).toBeGreaterThan(10);
  expect(max).toBeLessThan(MAX_ENQUEUE_MS);
  // Not blocked for the migration's duration: 002's first text (STORED, a table copy) made an
  // INSERT sent 1 s into its 1.9 s copy of these rows wait 0.9 s, i.e. until the copy ended.
  expect(max).toBeLessThan(migrationMs / 2);

  // The schema the product expects, on every row: the index built, the new column defaulted.
  const [[dead]] = (await stack.sql.query(
    "SELECT COUNT(*) AS n FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = 'ix_queue_messages_dead'",
  )) as any;
  expect(Number(dead.n)).toBe(2);
  const [[parts]] = (await stack.sql.query('SELECT COUNT(*) AS n, SUM(payload_parts) AS parts FROM queue_messages')) as any;
  expect({ n: Number(parts.n), parts: Number(parts.parts) }).toEqual({ n: MESSAGES + latencies.length, parts: 0 });

  expect(await migrate(stack.newDb())).toEqual({
    applied: [],
    skipped: [...MIGRATIONS],
  });
}, 120_000);
