/**
 * doctor --full on the local stack: green as it is, red when the local Data API misbehaves (a
 * response limit lowered, error messages without detail, a fault injected), and either way no
 * row of its scratch queues left in any table.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { errorsWithoutDetail, responseLimit, startDataApiProxy, type ProxyRules } from '../../support/dataApiProxy.js';
import { useStack, type Stack } from '../../support/stack.js';
import { runCaptured, stackEnv } from '../helpers.js';

const stack = useStack();

describe('doctor --full', () => {
  const FULL_CHECKS = [
    'scratch queues',
    'batch enqueue with a racing dedup key',
    'two claims at once',
    'FIFO heads and followers',
    'permits taken and freed',
    'heartbeat and cancel of a running message',
    '1 MiB payload round trip',
    'redrive and purge',
    'retention delete',
    'result and progress',
    'wake row',
    'migration error 1050 (table exists)',
    'migration error 1060 (column exists)',
    'migration error 1061 (key exists)',
    'migration error 1091 (key dropped already)',
    'process list shows the SQL as sent',
    'scratch rows removed',
  ];

  afterEach(() => stack.server.faults.clear());

  it('runs every kind of statement green on the local stack and leaves no row behind', async () => {
    const run = await runCaptured(['doctor', '--full', '--json'], stackEnv(stack));
    const checks = JSON.parse(run.stdout) as { name: string; result: string; detail: string }[];
    expect(checks.filter((c) => c.result === 'fail')).toEqual([]);
    expect(run.code).toBe(0);
    const full = checks.slice(checks.findIndex((c) => c.name === 'scratch queues'));
    expect(full.map((c) => c.name)).toEqual(FULL_CHECKS);
    expect(full.filter((c) => c.result !== 'pass').map((c) => c.name)).toEqual(['scratch queues']);
    expect(full.find((c) => c.name === '1 MiB payload round trip')!.detail).toMatch(
      /^1,048,576 bytes of JSON text .* in \d+ slices; claimed and read back equal/,
    );
    expect(full.find((c) => c.name === 'process list shows the SQL as sent')!.detail).toMatch(/^INFO equals the SQL as sent/);
    expect(await scratchRowsLeft(stack)).toEqual(NOTHING_LEFT);
  });

  it('fails, naming the check, when a response over 256 KiB is refused, and still removes its rows', async () => {
    const checks = await fullThroughProxy(responseLimit(256 * 1_024));
    expect(failed(checks)).toEqual(['1 MiB payload round trip']);
    expect(checks.find((c) => c.name === '1 MiB payload round trip')!.detail).toMatch(/Database response exceeded size limit/);
    expect(await scratchRowsLeft(stack)).toEqual(NOTHING_LEFT);
  });

  it('fails the migration error checks when SQL errors carry neither the MySQL code nor its text', async () => {
    const checks = await fullThroughProxy(errorsWithoutDetail());
    expect(failed(checks)).toEqual([
      'migration error 1050 (table exists)',
      'migration error 1060 (column exists)',
      'migration error 1061 (key exists)',
      'migration error 1091 (key dropped already)',
    ]);
    expect(checks.find((c) => c.name === 'migration error 1050 (table exists)')!.detail).toMatch(/^not recognised as already done: .*The statement failed/);
    expect(await scratchRowsLeft(stack)).toEqual(NOTHING_LEFT);
  });

  it('fails when the server fails every BeginTransaction (a fault injected), with a non-zero exit naming the checks', async () => {
    stack.server.faults.inject({ kind: 'internal', probability: 1, operations: ['BeginTransaction'] });
    const run = await runCaptured(['doctor', '--full'], stackEnv(stack));
    expect(run.code).toBe(1);
    // What runs in a transaction: a sliced payload's row and slices, and each DDL statement (with its lock wait).
    expect(run.stdout).toMatch(/1 MiB payload round trip +fail/);
    expect(run.stderr).toContain(
      'aurora-queue doctor: 5 checks failed: 1 MiB payload round trip, migration error 1050 (table exists), migration error 1060 (column exists), migration error 1061 (key exists), migration error 1091 (key dropped already)',
    );
    expect(run.stdout).toMatch(/scratch rows removed +pass/);
    expect(await scratchRowsLeft(stack)).toEqual(NOTHING_LEFT);
  });
});

type Checks = { name: string; result: string; detail: string }[];

const failed = (checks: Checks) => checks.filter((c) => c.result === 'fail').map((c) => c.name);

/** doctor --full --json against the local server behind a proxy that misbehaves by `rules`; must exit 1. */
async function fullThroughProxy(rules: ProxyRules): Promise<Checks> {
  const proxy = await startDataApiProxy(stack.endpoint, rules);
  try {
    const run = await runCaptured(['doctor', '--full', '--json'], { ...stackEnv(stack), DATA_API_ENDPOINT: proxy.url });
    expect(run.code).toBe(1);
    const checks = JSON.parse(run.stdout) as Checks;
    expect(run.stderr).toContain(`check${failed(checks).length === 1 ? '' : 's'} failed: ${failed(checks).join(', ')}`);
    return checks;
  } finally {
    await proxy.close();
  }
}

const NOTHING_LEFT = {
  queue_messages: 0,
  queue_payload_parts: 0,
  queue_permits: 0,
  queue_group_slots: 0,
  queue_state: 0,
  queue_recurring_purges: 0,
  probe_tables: 0,
};

/** Rows of doctor's scratch queues in every table that holds rows per queue, orphaned payload slices, and probe tables. */
async function scratchRowsLeft(target: Stack): Promise<typeof NOTHING_LEFT> {
  const count = async (sql: string) => Number(((await target.sql.query(sql)) as any)[0][0].n);
  const perQueue = async (table: string) => count(`SELECT COUNT(*) AS n FROM ${table} WHERE queue LIKE 'doctor-%'`);
  return {
    queue_messages: await perQueue('queue_messages'),
    queue_payload_parts: await count(
      "SELECT COUNT(*) AS n FROM queue_payload_parts AS p LEFT JOIN queue_messages AS m ON m.id = p.message_id WHERE m.id IS NULL OR m.queue LIKE 'doctor-%'",
    ),
    queue_permits: await perQueue('queue_permits'),
    queue_group_slots: await perQueue('queue_group_slots'),
    queue_state: await perQueue('queue_state'),
    queue_recurring_purges: await perQueue('queue_recurring_purges'),
    probe_tables: await count("SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'doctor\\_probe\\_%'"),
  };
}
