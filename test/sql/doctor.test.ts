/**
 * doctor: the statements `aurora-queue doctor` runs, one by one on the real stack (test/doctor.test.ts
 * covers the pure assessments; test/cli/commands/doctor*.test.ts the command end to end). What each
 * answers, the rows its probes write and remove, re-sends after a lost reply, the name guards on
 * what cannot be a parameter, and that each plan it explains is the product's statement.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { DatabaseError, DataApiRequestError } from '../../lib/db/errors.js';
import type { Db } from '../../lib/db/types.js';
import { CLAIM_BATCH } from '../../lib/sql/claimBatch.js';
import { CLAIM_GROUP_HEADS, FIND_GROUP_HEADS } from '../../lib/sql/claimGroupHeads.js';
import {
  appliedSchemaVersion,
  bigRow,
  countQueueMessages,
  countScratchRows,
  DDL_PROBES,
  deleteScratchRows,
  explainClaimBatch,
  explainClaimGroupHeads,
  explainClaimScan,
  explainFindGroupHeads,
  jsonRoundTrip,
  probeTableExists,
  runDdlProbe,
  runningStatementsWith,
  runSlowStatement,
  SCRATCH_TABLES,
  serverSettings,
  slowProbeStatement,
  ungroupedLiveMessages,
  unchangedUpdateCount,
} from '../../lib/sql/doctor.js';
import { loadMigrations } from '../../lib/migrate.js';
import { at, expectAccess, explain, idOf, insertBackground, insertFixtures, messages, statementsOf, tableRows, T0 } from '../support/statements.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';
import { waitFor } from '../support/waitFor.js';

const stack = useStack();

const PROBE_QUEUE = '__aurora_queue_doctor';
const probeName = () => `doctor_probe_${randomBytes(6).toString('hex')}`;

describe('server questions', () => {
  it('serverSettings: the version, whether the binary log is written, its format and the time zone', async () => {
    const settings = await serverSettings(stack.db);
    const [[direct]] = (await stack.sql.query('SELECT VERSION() AS version, @@log_bin AS log_bin, @@GLOBAL.binlog_format AS format')) as [
      { version: string; log_bin: number; format: string | null }[],
      unknown,
    ];
    expect(settings).toEqual({ version: direct!.version, logBin: Number(direct!.log_bin) === 1, binlogFormat: direct!.format, timeZone: expect.any(String) });
    expect(settings.timeZone).not.toBe('');
  });

  it('appliedSchemaVersion: the highest version recorded, undefined with none', async () => {
    const latest = Math.max(...loadMigrations().map((migration) => migration.version));
    expect(await appliedSchemaVersion(stack.db)).toBe(latest);
    const rows = await tableRows(stack, 'schema_migrations', 'version');
    await stack.sql.query('DELETE FROM schema_migrations');
    try {
      expect(await appliedSchemaVersion(stack.db)).toBeUndefined();
    } finally {
      await stack.sql.query('INSERT INTO schema_migrations (version, name, checksum, claimed_by, claimed_at, applied_at) VALUES ?', [
        rows.map((row) => [row.version, row.name, row.checksum, row.claimed_by, row.claimed_at, row.applied_at]),
      ]);
    }
    expect(await appliedSchemaVersion(stack.db)).toBe(latest);
  });

  it('jsonRoundTrip: a JSON document sent as a string parameter reads back through JSON functions', async () => {
    expect(await jsonRoundTrip(stack.db, { n: 42, s: 'é "quoted"' })).toEqual({ number: 42, text: 'é "quoted"' });
    expect(await jsonRoundTrip(stack.db, { n: -1.5, s: 'back\\slash, new\nline, 😀' })).toEqual({ number: -1.5, text: 'back\\slash, new\nline, 😀' });
    expect(await jsonRoundTrip(stack.db, {})).toEqual({ number: null, text: null });
  });

  it('bigRow: a row under 64 KB comes back whole; the local server refuses one over it, as the Data API documents', async () => {
    expect(await bigRow(stack.db, 1_000)).toBe(1_000);
    expect(await bigRow(stack.db, 0)).toBe(0);
    const error = await bigRow(stack.db, 70_000).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as Error).message).toMatch(/Packet for query is too large/);
  });
});

describe('unchangedUpdateCount', () => {
  const probeRows = async () => (await tableRows(stack, 'queue_state', 'queue')).filter((row) => row.queue === PROBE_QUEUE);

  it('counts the matched row (1, as the Data API counts by default) and leaves no row behind, even one an earlier run left', async () => {
    const db = stack.newDb();
    expect(await unchangedUpdateCount(db, at(0))).toBe(1);
    expect(db.stats.calls).toBe(3);
    expect(await probeRows()).toEqual([]);
    await stack.sql.query('INSERT INTO queue_state (queue, updated_at) VALUES (?, ?)', [PROBE_QUEUE, at(-60_000)]);
    expect(await unchangedUpdateCount(stack.db, at(0))).toBe(1);
    expect(await probeRows()).toEqual([]);
  });

  it('answers the same and leaves no row when any of its statements is re-sent after a lost reply', async () => {
    for (const statement of ['INSERT INTO queue_state', 'UPDATE queue_state', 'DELETE FROM queue_state']) {
      const lost = lostReplyDb(stack, { when: (sql) => sql.startsWith(statement) });
      expect(await unchangedUpdateCount(lost.db, at(0)), statement).toBe(1);
      expect([lost.lost(), lost.sent()], statement).toEqual([1, 2]);
      expect(await probeRows(), statement).toEqual([]);
    }
  });
});

describe('ungroupedLiveMessages and countQueueMessages', () => {
  beforeAll(async () => {
    await insertFixtures(stack, [
      { id: idOf(1), queue: 'fifo-a' },
      { id: idOf(2), queue: 'fifo-a', status: 'retrying' },
      { id: idOf(3), queue: 'fifo-a', status: 'running', leaseToken: 'l' },
      { id: idOf(4), queue: 'fifo-a', groupKey: 'g' },
      { id: idOf(5), queue: 'fifo-a', status: 'done' },
      { id: idOf(6), queue: 'fifo-b', groupKey: 'g' },
      { id: idOf(7), queue: 'fifo-c', status: 'dead' },
      { id: idOf(8), queue: 'plain' },
      { id: idOf(9), queue: 'keyed', dedupKey: 'k' },
      { id: idOf(10), queue: 'keyed', dedupKey: 'other' },
      { id: idOf(11), queue: 'keyed', status: 'done', dedupKey: 'k2' },
      { id: idOf(12), queue: 'keyed' },
    ]);
  });

  it('counts live messages without a group, by queue, leaving out finished and grouped ones and other queues', async () => {
    expect(await ungroupedLiveMessages(stack.db, ['fifo-a', 'fifo-b', 'fifo-c', 'fifo-none'])).toEqual(new Map([['fifo-a', 3]]));
  });

  it('makes no call for no queues', async () => {
    const db = stack.newDb();
    expect(await ungroupedLiveMessages(db, [])).toEqual(new Map());
    expect(db.stats.calls).toBe(0);
  });

  it('countQueueMessages: every stored message of a queue, finished ones too, and those with the key', async () => {
    expect(await countQueueMessages(stack.db, { queue: 'keyed', dedupKey: 'k' })).toEqual({ stored: 4, keyed: 1 });
    expect(await countQueueMessages(stack.db, { queue: 'keyed', dedupKey: 'k2' })).toEqual({ stored: 4, keyed: 1 });
    // An empty key matches no message: a NULL key is no key.
    expect(await countQueueMessages(stack.db, { queue: 'keyed', dedupKey: '' })).toEqual({ stored: 4, keyed: 0 });
    expect(await countQueueMessages(stack.db, { queue: 'nothing', dedupKey: 'k' })).toEqual({ stored: 0, keyed: 0 });
  });
});

describe('plans', () => {
  const now = T0;
  beforeAll(() => insertBackground(stack));

  it('explainClaimScan: the claim reads its queue through the claim index', async () => {
    const plan = await explainClaimScan(stack.db, 'bg0', now);
    expect(plan.key).toBe('ix_queue_messages_claim');
    expect(['ref', 'range']).toContain(plan.type);
  });

  it('ungroupedLiveMessages reads the live range of each queue through the claim index', async () => {
    const [call] = await statementsOf(stack.db, (db) => ungroupedLiveMessages(db, ['bg0', 'bg1']));
    expectAccess(await explain(stack.db, call!), { queue_messages: 'ix_queue_messages_claim' });
  });

  it('explains the claims exactly as the drain sends them, every parameter bound, leasing nothing', async () => {
    const before = await messages(stack, { queue: 'bg0' });
    const calls = await statementsOf(stack.db, async (db) => {
      await explainClaimBatch(db, { queue: 'bg0', limit: 10, now });
      await explainFindGroupHeads(db, { queue: 'bg0', limit: 40, now });
      await explainClaimGroupHeads(db, { queue: 'bg0', limit: 10, heads: 3, now });
    });
    expect(calls.map((call) => call.sql)).toEqual([`EXPLAIN ${CLAIM_BATCH}`, `EXPLAIN ${FIND_GROUP_HEADS}`, `EXPLAIN ${CLAIM_GROUP_HEADS(3)}`]);
    expect(Object.keys(calls[2]!.params).sort()).toEqual(
      ['followers', 'head0', 'head1', 'head2', 'leaseToken', 'leaseUntil', 'limit', 'next0', 'next1', 'next2', 'now', 'queue'].sort(),
    );
    expect(await messages(stack, { queue: 'bg0' })).toEqual(before);
  });

  it("answers EXPLAIN's rows as PlanRows: numbers as numbers, a missing key as null", async () => {
    const plan = await explainClaimBatch(stack.db, { queue: 'bg0', limit: 10, now });
    const raw = await stack.db.query(`EXPLAIN ${CLAIM_BATCH}`, { queue: 'bg0', limit: 10, now, leaseToken: 'x', leaseUntil: now });
    expect(plan.map((row) => [row.id, row.selectType, row.table, row.type, row.key])).toEqual(
      raw.map((row) => [Number(row.id), row.select_type, row.table, row.type, row.key ?? null]),
    );
    for (const row of plan) {
      expect(row.rows === null || typeof row.rows === 'number').toBe(true);
      expect(typeof row.extra).toBe('string');
    }
    expect(plan.find((row) => row.table === 'queue_messages')?.key).toBe('ix_queue_messages_claim');
    expect(plan.find((row) => row.table === 'm')).toMatchObject({ key: 'PRIMARY', type: 'eq_ref' });
  });
});

describe('DDL probes', () => {
  const marker = '/* aurora-queue doctor test */';
  const probe = (table: string, name: keyof typeof DDL_PROBES, db = stack.db) => runDdlProbe(db, { probe: name, table, marker, lockWaitSeconds: 5 });
  const codeOf = (run: Promise<unknown>) =>
    run.then(
      () => undefined,
      (error: { mysqlCode?: number }) => error.mysqlCode,
    );

  it('provokes, run a second time, each error the migration runner reads as already done (1050, 1060, 1061; 1091 once)', async () => {
    const table = probeName();
    try {
      expect(await probeTableExists(stack.db, table)).toBe(false);
      await probe(table, 'createTable');
      expect(await probeTableExists(stack.db, table)).toBe(true);
      expect(await codeOf(probe(table, 'createTable'))).toBe(1050);
      await probe(table, 'addColumn');
      expect(await codeOf(probe(table, 'addColumn'))).toBe(1060);
      await probe(table, 'addKey');
      expect(await codeOf(probe(table, 'addKey'))).toBe(1061);
      expect(await codeOf(probe(table, 'dropMissingKey'))).toBe(1091);
    } finally {
      await probe(table, 'dropTable');
    }
    expect(await probeTableExists(stack.db, table)).toBe(false);
    // Dropping a table that is gone is no error.
    await probe(table, 'dropTable');
  });

  it('sends the marker comment first, in a transaction that sets and puts back the lock wait', async () => {
    const table = probeName();
    const calls = await statementsOf(stack.db, (db) => probe(table, 'dropTable', db));
    expect(calls.map((call) => call.sql)).toEqual([
      'SET SESSION lock_wait_timeout = :seconds',
      `${marker}\nDROP TABLE IF EXISTS ${table}`,
      'SET SESSION lock_wait_timeout = @@GLOBAL.lock_wait_timeout',
    ]);
  });

  it('touches only tables named as doctor names its own, and takes only a plain marker, before any call', async () => {
    const db = stack.newDb();
    for (const table of [
      'queue_messages',
      'doctor_probe_',
      'doctor_probe_0123456789ab; DROP TABLE queue_messages',
      'doctor_probe_0123456789AB',
      'doctor_probe_0123456789abc',
    ]) {
      await expect(probe(table, 'dropTable', db), table).rejects.toThrow(/not a doctor probe table/);
      await expect(probeTableExists(db, table), table).rejects.toThrow(/not a doctor probe table/);
    }
    for (const bad of ['-- comment', '/* a */ DROP TABLE x; /* b */', '/* new\nline */', '/**/']) {
      await expect(runDdlProbe(db, { probe: 'dropTable', table: probeName(), marker: bad, lockWaitSeconds: 1 }), bad).rejects.toThrow(/bad marker/);
    }
    expect(db.stats.calls).toBe(0);
  });
});

describe('the slow statement and the process list', () => {
  it('slowProbeStatement: a several-line statement named by the probe, refusing anything else', () => {
    expect(slowProbeStatement('doctor_probe_0a', 2)).toBe('SELECT SLEEP(2) AS doctor_probe_0a\n-- a comment inside, as migrations have\nFROM DUAL');
    expect(() => slowProbeStatement('queue_messages', 2)).toThrow(RangeError);
    expect(() => slowProbeStatement('doctor_probe_0a; DROP TABLE x', 2)).toThrow(RangeError);
    expect(() => slowProbeStatement('doctor_probe_0a', 1.5)).toThrow(RangeError);
  });

  it('runningStatementsWith finds the slow statement while it runs, as sent, and nothing once it ends', async () => {
    const table = probeName();
    const sent = `/* aurora-queue doctor test */\n${slowProbeStatement(table, 600)}`;
    const slow = runSlowStatement(stack.newDb(), sent).catch((error: unknown) => error);
    try {
      await waitFor(async () => (await runningStatementsWith(stack.db, table)).length === 1, 10_000, 'the slow statement in the process list');
      expect(await runningStatementsWith(stack.db, table)).toEqual([sent]);
    } finally {
      const [ids] = await stack.sql.query('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()', [`%${table}%`]);
      for (const { id } of ids as { id: number }[]) await stack.sql.query(`KILL QUERY ${Number(id)}`);
    }
    const outcome = await slow;
    expect(outcome === undefined || outcome instanceof DatabaseError).toBe(true);
    await waitFor(async () => (await runningStatementsWith(stack.db, table)).length === 0, 10_000, 'the killed statement to leave the process list');
  });
});

describe('scratch rows', () => {
  const queues = ['doctor-s-a', 'doctor-s-b'];
  async function seed() {
    await insertFixtures(stack, [
      { id: idOf(101), queue: queues[0], payloadParts: 2, payload: 'null' },
      { id: idOf(102), queue: queues[0], status: 'done' },
      { id: idOf(103), queue: queues[1], groupKey: 'g' },
      { id: idOf(104), queue: 'doctor-keep' },
    ]);
    await stack.sql.query('INSERT INTO queue_payload_parts (message_id, part, bytes, data) VALUES ?', [
      [
        [idOf(101), 0, 2, '[1'],
        [idOf(101), 1, 2, ',2'],
      ],
    ]);
    for (const queue of [...queues, 'doctor-keep']) {
      await stack.sql.query("INSERT INTO queue_permits (queue, kind, slot, free_at) VALUES (?, 'rate', 0, ?), (?, 'run', 0, ?)", [queue, T0, queue, T0]);
      await stack.sql.query('INSERT INTO queue_group_slots (queue, slot) VALUES (?, 0), (?, 1), (?, 2)', [queue, queue, queue]);
      await stack.sql.query('INSERT INTO queue_state (queue, updated_at) VALUES (?, ?)', [queue, T0]);
      await stack.sql.query('INSERT INTO queue_recurring_purges (queue, entry, purged_through, updated_at) VALUES (?, ?, ?, ?)', [queue, 'tick', T0, T0]);
    }
  }
  const reset = async () => {
    for (const table of SCRATCH_TABLES.filter((t) => t !== 'queue_payload_parts')) {
      await stack.sql.query(`DELETE FROM ${table} WHERE queue IN (?)`, [[...queues, 'doctor-keep']]);
    }
  };
  const ids = [idOf(101), idOf(102), idOf(103)];
  const counts = (n: Record<string, number>) => Object.fromEntries(SCRATCH_TABLES.map((table) => [table, n[table] ?? 0]));

  it('counts the scratch queues’ rows in every table, and their messages’ payload slices by id', async () => {
    await reset();
    await seed();
    const expected = counts({ queue_messages: 3, queue_payload_parts: 2, queue_permits: 4, queue_group_slots: 6, queue_state: 2, queue_recurring_purges: 2 });
    expect(await countScratchRows(stack.db, { queues, messageIds: ids })).toEqual(expected);
    // With no ids made, no slice is counted (an id no message has stands in for the empty list).
    expect(await countScratchRows(stack.db, { queues, messageIds: [] })).toEqual({ ...expected, queue_payload_parts: 0 });
  });

  it('deletes every row of the scratch queues table by table, counting each, and nothing of other queues; again, deletes nothing', async () => {
    await reset();
    await seed();
    const keep = await countScratchRows(stack.db, { queues: ['doctor-keep'], messageIds: [idOf(104)] });
    expect(await deleteScratchRows(stack.db, queues)).toEqual({
      // Slices first, counted: they would go with their messages (ON DELETE CASCADE), uncounted.
      deleted: counts({ queue_payload_parts: 2, queue_messages: 3, queue_permits: 4, queue_group_slots: 6, queue_state: 2, queue_recurring_purges: 2 }),
      errors: [],
    });
    expect(await countScratchRows(stack.db, { queues, messageIds: ids })).toEqual(counts({}));
    expect(await countScratchRows(stack.db, { queues: ['doctor-keep'], messageIds: [idOf(104)] })).toEqual(keep);
    expect(await deleteScratchRows(stack.db, queues)).toEqual({ deleted: counts({}), errors: [] });
  });

  it('re-sent after a lost reply, a table’s count is the re-send’s own (0): the rows are gone either way', async () => {
    await reset();
    await seed();
    const lost = lostReplyDb(stack, { when: (sql) => sql.startsWith('DELETE FROM queue_permits') });
    const removal = await deleteScratchRows(lost.db, queues);
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(removal).toEqual({
      deleted: counts({ queue_payload_parts: 2, queue_messages: 3, queue_permits: 0, queue_group_slots: 6, queue_state: 2, queue_recurring_purges: 2 }),
      errors: [],
    });
    expect(await countScratchRows(stack.db, { queues, messageIds: ids })).toEqual(counts({}));
  });

  it('tries every table when one fails, and answers the error by table', async () => {
    await reset();
    await seed();
    const db = stack.newDb();
    // The same Db, but the database refuses the statement on one table.
    const failing: Db = {
      query: (sql, params, options) => db.query(sql, params, options),
      execute: (sql, params, options) =>
        sql.includes('queue_group_slots') ? Promise.reject(new DataApiRequestError('refused (test)')) : db.execute(sql, params, options),
      batch: (sql, sets, options) => db.batch(sql, sets, options),
      transaction: (work) => db.transaction(work),
      withTransactionId: (id) => db.withTransactionId(id),
      transactionId: undefined,
      stats: db.stats,
    };
    const removal = await deleteScratchRows(failing, queues);
    expect(removal.errors).toEqual(['queue_group_slots: DataApiRequestError: refused (test)']);
    expect(Object.keys(removal.deleted).sort()).toEqual(SCRATCH_TABLES.filter((t) => t !== 'queue_group_slots').sort());
    expect((await countScratchRows(stack.db, { queues, messageIds: ids })).queue_group_slots).toBe(6);
  });
});
