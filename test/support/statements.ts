/**
 * The per-statement conformance suite's tools (test/sql/*.test.ts), in the spirit of River's driver
 * tests: every statement module is held to the same questions, each answered on the real stack.
 *   - the lease guard: a write that presents a stale lease token changes nothing;
 *   - a re-send after a lost reply (test/support/lostReply.ts): the state is that of one run, and
 *     the count is what numberOfRecordsUpdated reports for it;
 *   - the affected-row count each function returns;
 *   - the plan: EXPLAIN of the statement as the product sends it (recorded from a real call, bound
 *     parameters and all, through the Data API), with no full scan of queue_messages and the
 *     index the statement is written for.
 */
import { expect, it } from 'vitest';
import type { Clock } from '../../lib/clock.js';
import type { Db, Row, SqlParams } from '../../lib/db/types.js';
import { lostReplyDb } from './lostReply.js';
import type { Stack } from './stack.js';

export const T0 = new Date('2026-03-01T12:00:00.000Z');
export const at = (ms: number) => new Date(T0.getTime() + ms);
/** Ids in a fixed order: n sorts after n - 1. */
export const idOf = (n: number) => `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;

export interface Fixture {
  id: string;
  queue: string;
  type: string;
  payload: string;
  status: 'waiting' | 'running' | 'retrying' | 'done' | 'dead' | 'cancelled';
  priority: number;
  attempts: number;
  maxAttempts: number;
  availableAt: Date;
  leaseToken: string | null;
  dedupKey: string | null;
  groupKey: string | null;
  /** The stored trace context (lib/tracing.ts). */
  traceContext: string | null;
  lastError: string | null;
  payloadParts: number;
  createdAt: Date;
  updatedAt: Date;
  /** Default: T0 for a finished status, else null. */
  finishedAt: Date | null;
}

const FINISHED = new Set(['done', 'dead', 'cancelled']);

/** Inserts messages as the product stores them (a live grouped message heads its group), through the fixture pool. */
export async function insertFixtures(stack: Stack, fixtures: readonly (Partial<Fixture> & { id: string })[]): Promise<string[]> {
  const rows = fixtures.map((f) => {
    const status = f.status ?? 'waiting';
    const finishedAt = f.finishedAt !== undefined ? f.finishedAt : FINISHED.has(status) ? T0 : null;
    const groupKey = f.groupKey ?? null;
    const payload = f.payload ?? '{}';
    return [
      f.id,
      f.queue ?? 'q',
      f.type ?? 't',
      payload,
      Buffer.byteLength(payload),
      f.payloadParts ?? 0,
      status,
      f.priority ?? 0,
      f.attempts ?? 0,
      f.maxAttempts ?? 3,
      f.availableAt ?? T0,
      f.leaseToken ?? null,
      f.dedupKey ?? null,
      groupKey,
      finishedAt === null ? groupKey : null,
      f.traceContext ?? null,
      f.lastError ?? null,
      f.createdAt ?? T0,
      f.updatedAt ?? T0,
      finishedAt,
    ];
  });
  for (let i = 0; i < rows.length; i += 500) {
    await stack.sql.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, payload_parts, status, priority, attempts, max_attempts, available_at,
         lease_token, dedup_key, group_key, group_head, trace_context, last_error, created_at, updated_at, finished_at) VALUES ?`,
      [rows.slice(i, i + 500)],
    );
  }
  return fixtures.map((f) => f.id);
}

/**
 * Many rows in other queues, live and finished, and fresh statistics: a table where a plan that
 * scans shows it (on a near-empty table the optimizer may rightly prefer a scan).
 */
export async function insertBackground(stack: Stack, options: { queues?: readonly string[]; perQueue?: number; from?: number } = {}): Promise<void> {
  const queues = options.queues ?? ['bg0', 'bg1', 'bg2', 'bg3'];
  const perQueue = options.perQueue ?? 1_000;
  let n = options.from ?? 900_000;
  const statuses = ['done', 'done', 'done', 'dead', 'cancelled', 'waiting', 'retrying', 'running'] as const;
  const fixtures = queues.flatMap((queue) =>
    Array.from({ length: perQueue }, (_, i) => {
      const status = statuses[i % statuses.length]!;
      return {
        id: idOf(n++),
        queue,
        status,
        availableAt: at((i % 50) * 60_000 - 30 * 60_000),
        leaseToken: status === 'running' ? `lease-${queue}-${i % 7}` : null,
        dedupKey: i % 3 === 0 ? `${queue}-key-${i}` : null,
        groupKey: i % 2 === 0 ? `g${i % 40}` : null,
        finishedAt: FINISHED.has(status) ? at(-(i % 100) * 60_000) : null,
      };
    }),
  );
  await insertFixtures(stack, fixtures);
  await stack.sql.query('ANALYZE TABLE queue_messages, queue_permits, queue_state, queue_payload_parts');
}

/** A message's stored state, every column a statement may write. */
export async function messages(stack: Stack, where: { queue?: string; ids?: readonly string[] } = {}): Promise<Row[]> {
  const [rows] = await stack.sql.query(
    `SELECT id, queue, status, attempts, available_at, lease_token, last_error, finished_at, group_key, group_head, dead_queue, group_lease,
            dedup_key, dedup_hits, payload_parts, updated_at
     FROM queue_messages WHERE (? IS NULL OR queue = ?) AND (? IS NULL OR FIND_IN_SET(id, ?)) ORDER BY id`,
    [where.queue ?? null, where.queue ?? null, where.ids?.join(',') ?? null, where.ids?.join(',') ?? null],
  );
  return rows as Row[];
}

/** Every row of a table, in primary-key order: a snapshot to compare before and after. */
export async function tableRows(stack: Stack, table: string, orderBy: string): Promise<Row[]> {
  const [rows] = await stack.sql.query(`SELECT * FROM ${table} ORDER BY ${orderBy}`);
  return rows as Row[];
}

export interface Call {
  kind: 'query' | 'execute' | 'batch';
  sql: string;
  params: SqlParams;
  /** When it was sent, by the clock given to recordingDb. */
  atMs?: number;
}

/** A Db that records every statement sent through it (and through its transactions), and when by `clock` if given. */
export function recordingDb(inner: Db, calls: Call[] = [], clock?: Clock): Db & { calls: Call[] } {
  const record = (kind: Call['kind'], sql: string, params: SqlParams) =>
    calls.push({ kind, sql, params, ...(clock === undefined ? {} : { atMs: clock.now().getTime() }) });
  const db: Db & { calls: Call[] } = {
    calls,
    query: (sql, params, options) => (record('query', sql, params ?? {}), inner.query(sql, params, options)),
    execute: (sql, params, options) => (record('execute', sql, params ?? {}), inner.execute(sql, params, options)),
    batch: (sql, sets, options) => (record('batch', sql, sets[0] ?? {}), inner.batch(sql, sets, options)),
    transaction: (work) => inner.transaction((tx) => work(recordingDb(tx, calls, clock))),
    withTransactionId: (id) => recordingDb(inner.withTransactionId(id), calls, clock),
    get transactionId() {
      return inner.transactionId;
    },
    get stats() {
      return inner.stats;
    },
  };
  return db;
}

/** The ids a statement about held messages sent in its `held` rows (lib/sql/heldMessage.ts heldRows). */
export function heldIds(params: SqlParams): string[] {
  return (params.held as { messages: { id: string }[] }[]).flatMap((claim) => claim.messages.map((message) => message.id));
}

/** The statements `run` sends, as it sends them. */
export async function statementsOf(db: Db, run: (db: Db) => Promise<unknown>): Promise<Call[]> {
  const recording = recordingDb(db);
  await run(recording);
  return recording.calls;
}

/** EXPLAIN of a recorded statement, through the Data API with its own parameters. */
export async function explain(db: Db, call: Call): Promise<Row[]> {
  return db.query(`EXPLAIN ${call.sql}`, call.params);
}

/**
 * Asserts the plan reads queue_messages (under the aliases given) only through the keys given,
 * never by a full table or index scan: `{ m: 'PRIMARY' }`. A table the map does not name is not
 * checked (a JSON_TABLE, a derived table).
 */
export function expectAccess(plan: readonly Row[], keys: Readonly<Record<string, string | readonly string[]>>): void {
  const seen = Object.fromEntries(Object.keys(keys).map((table) => [table, plan.filter((row) => row.table === table).map((row) => row.key)]));
  const wanted = Object.fromEntries(Object.entries(keys).map(([table, key]) => [table, typeof key === 'string' ? [key] : [...key]]));
  expect(seen, JSON.stringify(plan)).toEqual(wanted);
  const scans = plan.filter((row) => typeof row.table === 'string' && row.table in keys && (row.type === 'ALL' || row.type === 'index'));
  expect(scans, 'a full scan').toEqual([]);
}

/**
 * Runs `run` twice on the same fixtures: once as is, once through a Db that loses the reply of the
 * first matching statement so the retry layer re-sends it. Answers both results and the rows each
 * left, for a test to compare (the same rows: the re-send changed nothing more).
 */
export async function onceAndResent<T>(
  stack: Stack,
  input: {
    seed: () => Promise<unknown>;
    reset: () => Promise<unknown>;
    run: (db: Db) => Promise<T>;
    lost: (sql: string) => boolean;
    state: () => Promise<unknown>;
  },
): Promise<{ once: { result: T; state: unknown }; resent: { result: T; state: unknown; lost: number; sent: number } }> {
  await input.reset();
  await input.seed();
  const onceResult = await input.run(stack.newDb());
  const onceState = await input.state();
  await input.reset();
  await input.seed();
  const lost = lostReplyDb(stack, { when: input.lost });
  const resentResult = await input.run(lost.db);
  return {
    once: { result: onceResult, state: onceState },
    resent: { result: resentResult, state: await input.state(), lost: lost.lost(), sent: lost.sent() },
  };
}

export interface SettleStatement {
  /** Writes the outcome of these held messages; answers numberOfRecordsUpdated. */
  settle: (db: Db, held: readonly { id: string; leaseToken: string; attempts?: number }[], now: Date) => Promise<number>;
  /** Picks the statement out of the SQL sent. */
  is: (sql: string) => boolean;
  /** The columns a settled message has (on top of its id), given what it was. */
  settled: (before: Row, now: Date) => Row;
  /** The statuses a held message may be in when settled (default: running). */
  heldStatus?: Fixture['status'];
}

const SETTLE_COLUMNS = ['status', 'attempts', 'available_at', 'lease_token', 'last_error', 'finished_at', 'group_head', 'dead_queue', 'updated_at'];
const pick = (row: Row, columns: readonly string[]) => Object.fromEntries(columns.map((column) => [column, row[column]]));

/**
 * The subtests every settle statement passes (markHeldDone, rescheduleHeld, deadLetterHeld, releaseHeld), as
 * River's driver suite holds each driver to the same ones: settles what is held and counts it,
 * changes nothing under a stale lease, leaves the state of one run when re-sent after a lost reply
 * (and counts the same: the local server counts matched rows, as Aurora does with the Data API's
 * default), and reaches each message by primary key from the JSON rows, scanning nothing.
 */
export function settleConformance(stack: Stack, queue: string, statement: SettleStatement): void {
  const heldStatus = statement.heldStatus ?? 'running';
  const now = at(5_000);
  const lease = (n: number) => `lease-${queue}-${n}`;
  /** Three held messages (one of a FIFO group, one with an attempt to store) and one whose lease another claim took since. */
  const seed = () =>
    insertFixtures(stack, [
      { id: idOf(1), queue, status: heldStatus, attempts: 1, leaseToken: lease(1), availableAt: at(30_000) },
      { id: idOf(2), queue, status: heldStatus, attempts: 2, leaseToken: lease(1), availableAt: at(30_000), groupKey: 'g' },
      { id: idOf(3), queue, status: heldStatus, attempts: 0, leaseToken: lease(2), availableAt: at(30_000), groupKey: 'h' },
      { id: idOf(4), queue, status: 'running', attempts: 2, leaseToken: lease(9), availableAt: at(60_000) },
    ]);
  const reset = () => stack.sql.query('DELETE FROM queue_messages WHERE queue = ?', [queue]);
  const held = [
    { id: idOf(1), leaseToken: lease(1) },
    { id: idOf(2), leaseToken: lease(1) },
    { id: idOf(3), leaseToken: lease(2), attempts: 1 },
    // Claimed again by another drain since (its token is lease(9) now): a stale lease.
    { id: idOf(4), leaseToken: lease(4) },
  ];
  const state = async () => (await messages(stack, { queue })).map((row) => ({ id: row.id, ...pick(row, SETTLE_COLUMNS) }));

  it('settles the held messages in one statement and counts them; a stale lease changes nothing', async () => {
    await reset();
    await seed();
    const before = await messages(stack, { queue });
    const db = stack.newDb();
    expect(await statement.settle(db, held, now)).toBe(3);
    expect(db.stats.calls).toBe(1);
    const after = await messages(stack, { queue });
    for (const [i, row] of after.entries()) {
      const was = before[i]!;
      if (row.id === idOf(4)) expect(row).toEqual(was);
      else {
        const expected = statement.settled({ ...was, attempts: held[i]!.attempts ?? was.attempts }, now);
        expect(pick(row, Object.keys(expected))).toEqual(expected);
      }
    }
  });

  it('changes nothing and counts 0 when every lease is stale, and makes no call for no messages', async () => {
    await reset();
    await seed();
    const before = await state();
    const stale = held.map((h) => ({ ...h, leaseToken: lease(7) }));
    expect(await statement.settle(stack.db, stale, now)).toBe(0);
    expect(await state()).toEqual(before);
    const db = stack.newDb();
    expect(await statement.settle(db, [], now)).toBe(0);
    expect(db.stats.calls).toBe(0);
  });

  it('leaves the state of one run, and the same count, when re-sent after a lost reply', async () => {
    const { once, resent } = await onceAndResent(stack, { seed, reset, run: (db) => statement.settle(db, held, now), lost: statement.is, state });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.state).toEqual(once.state);
    expect(resent.result).toBe(once.result);
  });

  it('reads the JSON rows, then each message by primary key: no scan of queue_messages', async () => {
    await insertBackground(stack, { from: 800_000 + queue.length * 10_000 });
    await reset();
    await seed();
    const [call] = (await statementsOf(stack.db, (db) => statement.settle(db, held, now))).filter((c) => statement.is(c.sql));
    const plan = await explain(stack.db, call!);
    if (process.env.SHOW_PLANS) console.log(plan);
    expectAccess(plan, { m: 'PRIMARY' });
    expect(plan.find((row) => row.table === 'm')!.type).toBe('eq_ref');
    // The JSON rows come first (STRAIGHT_JOIN): each message is reached from its row.
    expect(plan.findIndex((row) => row.table === 'm')).toBeGreaterThan(0);
  });
}

/**
 * Runs `run` while the group-lease index is gone, as while a migration rebuilds it, then puts it
 * back with the columns it had (read from the table, so it follows the migrations).
 */
export async function withoutGroupLeaseIndex(db: Db, run: () => Promise<void>): Promise<void> {
  const columns = await db.query(
    `SELECT column_name AS name FROM information_schema.statistics
     WHERE table_schema = DATABASE() AND table_name = 'queue_messages' AND index_name = 'ix_queue_messages_group_lease'
     ORDER BY seq_in_index`,
  );
  await db.execute('ALTER TABLE queue_messages DROP INDEX ix_queue_messages_group_lease');
  try {
    await run();
  } finally {
    await db.execute(`ALTER TABLE queue_messages ADD KEY ix_queue_messages_group_lease (${columns.map((c) => String(c.name)).join(', ')})`);
  }
}
