/** A FIFO queue's claim: only each group's head, when due; everything else waits its turn. */
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ManualClock } from '../../lib/clock.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { deadLetterHeld } from '../../lib/sql/deadLetterHeld.js';
import { redriveDeadLetters } from '../../lib/sql/deadLetters.js';
import { rescheduleHeld } from '../../lib/sql/rescheduleHeld.js';
import { CLAIM_GROUP_HEADS, FIND_GROUP_HEADS, claimGroupHeads, findGroupHeads } from '../../lib/sql/claimGroupHeads.js';
import { ensureGroupSlots } from '../../lib/sql/groupSlots.js';
import { readClaimedMessages } from '../../lib/sql/readClaimedMessages.js';
import { enqueue, enqueueInTransaction } from '../../lib/enqueue.js';
import { appOn, jobType, seed } from '../drain/helpers.js';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import { lostReplyDb } from '../support/lostReply.js';
import { onceAndResent, withoutGroupLeaseIndex } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const T0 = '2026-01-01T00:00:00.000Z';
const LEASE_MS = 30_000;

async function fifo(queue: string, groups: readonly string[]) {
  const clock = new ManualClock(T0);
  const app = appOn(stack, { queues: [{ name: queue, fifo: true }], jobTypes: [jobType('t', async () => {})], clock });
  const ids = await seed(
    app,
    groups.map((groupKey) => ({ queue, type: 't', groupKey })),
  );
  await ensureGroupSlots(app.db, { queue });
  /** One claim of heads (and followers when asked), read back in id order with their lease token. */
  const claim = async (options: { followers?: boolean } = {}) => {
    const leaseToken = randomUUID();
    const now = clock.now();
    const heads = await findGroupHeads(app.db, { queue, now, limit: 300 });
    const claimed = await claimGroupHeads(app.db, {
      queue,
      heads,
      limit: 100,
      leaseToken,
      now,
      leaseUntil: new Date(now.getTime() + LEASE_MS),
      followers: options.followers ?? false,
    });
    const messages = (await readClaimedMessages(app.db, { leaseToken, maxBytes: 1_000_000 })).map((m) => ({ ...m, leaseToken }));
    return { claimed, messages };
  };
  return { app, clock, ids, claim };
}

describe('claimGroupHeads', () => {
  it('still claims one head per group, unhinted, while a migration rebuilds the group-lease index', async () => {
    const { app, claim } = await fifo('headsnoindex', ['a', 'a', 'b']);
    await withoutGroupLeaseIndex(app.db, async () => {
      expect((await claim()).claimed).toBe(2);
      expect((await claim()).claimed).toBe(0);
    });
  });

  it('claims the first message of each group only, and the next once the first is done', async () => {
    const { app, clock, ids, claim } = await fifo('heads', ['a', 'b', 'a', 'c', 'b', 'a']);
    const first = await claim();
    expect(first.messages.map((m) => m.id).sort()).toEqual([ids[0], ids[1], ids[3]].sort());
    // Every group has its head in flight: nothing more.
    expect((await claim()).claimed).toBe(0);
    await markHeldDone(app.db, { held: first.messages.filter((m) => m.id === ids[0]), now: clock.now() });
    expect((await claim()).messages.map((m) => m.id)).toEqual([ids[2]]);
  });

  it('holds a group behind a retrying head until it is due, and releases it when the head is dead', async () => {
    const { app, clock, ids, claim } = await fifo('retry', ['g', 'g', 'g']);
    const [head] = (await claim()).messages;
    await rescheduleHeld(app.db, {
      retries: [{ id: head!.id, leaseToken: head!.leaseToken, availableAt: new Date(clock.now().getTime() + 5_000), error: 'boom' }],
      now: clock.now(),
    });
    expect((await claim()).claimed).toBe(0);
    clock.advance(5_000);
    const again = (await claim()).messages;
    expect(again.map((m) => [m.id, m.attempts])).toEqual([[ids[0], 2]]);
    await deadLetterHeld(app.db, { dead: [{ id: again[0]!.id, leaseToken: again[0]!.leaseToken, error: 'gave up' }], now: clock.now() });
    expect((await claim()).messages.map((m) => m.id)).toEqual([ids[1]]);
  });

  it('lets a crashed drain hold its group only until the lease ends', async () => {
    const { clock, ids, claim } = await fifo('crash', ['g', 'g']);
    expect((await claim()).messages.map((m) => m.id)).toEqual([ids[0]]);
    clock.advance(LEASE_MS - 1);
    expect((await claim()).claimed).toBe(0);
    clock.advance(1);
    expect((await claim()).messages.map((m) => [m.id, m.attempts])).toEqual([[ids[0], 2]]);
  });

  it('puts a redriven dead letter back at the head of its group, due a lease later', async () => {
    const { app, clock, ids, claim } = await fifo('redrive', ['g', 'g', 'g']);
    const [head] = (await claim()).messages;
    await deadLetterHeld(app.db, { dead: [{ id: head!.id, leaseToken: head!.leaseToken, error: 'bad' }], now: clock.now() });
    // The next message is in flight when the dead letter comes back.
    const [second] = (await claim()).messages;
    expect(second!.id).toBe(ids[1]);
    const now = clock.now();
    expect(await redriveDeadLetters(app.db, { queue: 'redrive', limit: 10, now, groupedAvailableAt: new Date(now.getTime() + LEASE_MS) })).toBe(1);
    await markHeldDone(app.db, { held: [second!], now: clock.now() });
    // The redriven one leads again: the third waits behind it, and it waits out the lease.
    expect((await claim()).claimed).toBe(0);
    clock.advance(LEASE_MS);
    expect((await claim()).messages.map((m) => m.id)).toEqual([ids[0]]);
  });

  it("leases each head's next message with it when asked, only when due, and nothing of a group whose head is held", async () => {
    const { app, clock, ids, claim } = await fifo('followers', ['a', 'b', 'a', 'c', 'a', 'b']);
    // The follower of b (ids[5]) is not due yet: b's head comes alone.
    await stack.sql.query('UPDATE queue_messages SET available_at = ? WHERE id = ?', [new Date(clock.now().getTime() + 60_000), ids[5]]);
    const first = await claim({ followers: true });
    expect(first.messages.map((m) => m.id)).toEqual([ids[0], ids[1], ids[2], ids[3]]);
    expect((await claim({ followers: true })).claimed).toBe(0);
    await markHeldDone(app.db, { held: first.messages, now: clock.now() });
    expect((await claim({ followers: true })).messages.map((m) => m.id)).toEqual([ids[4]]);
  });

  it('passes over a group whose producer transaction is still open, without waiting, and keeps its later messages behind the uncommitted one', async () => {
    const { app, claim } = await fifo('outbox', []);
    const message = (groupKey: string, n: number) => ({ type: 't', payload: { n }, groupKey });
    let inTransaction = '';
    let later = '';
    let other = '';
    await stack.db.transaction(async (tx) => {
      inTransaction = (await enqueueInTransaction(app, tx.transactionId!, 'outbox', [message('g', 1)]))[0]!.id;
      [later, other] = (await enqueue(app, 'outbox', [message('g', 2), message('h', 1)])).map((answer) => answer.id) as [string, string];
      // Were the claim to wait on the uncommitted row, it would wait for the lock wait timeout.
      const startedMs = performance.now();
      const first = await Promise.race([
        claim(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the claim waited on the open transaction')), 10_000)),
      ]);
      expect(performance.now() - startedMs).toBeLessThan(5_000);
      expect(first.messages.map((m) => m.id)).toEqual([other]);
    });
    // Committed: the transaction's message leads its group, ahead of the one enqueued after it.
    expect((await claim()).messages.map((m) => m.id)).toEqual([inTransaction]);
    expect(inTransaction < later).toBe(true);
  });

  it("does not wait on the next group's uncommitted message when it looks for a head's follower", async () => {
    // a's only message is the last entry of its group in the index; b's uncommitted message comes
    // right after it. A locking read for a's follower would stop on it and wait for its transaction.
    const { app, ids, claim } = await fifo('neighbours', ['a']);
    await stack.db.transaction(async (tx) => {
      await enqueueInTransaction(app, tx.transactionId!, 'neighbours', [{ type: 't', payload: {}, groupKey: 'b' }]);
      const first = await Promise.race([
        claim({ followers: true }),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the claim waited on the open transaction')), 10_000)),
      ]);
      expect(first.messages.map((m) => m.id)).toEqual([ids[0]]);
    });
  });

  it('holds one in flight per group when a message commits after a later one of its group started', async () => {
    const { app, clock, ids, claim } = await fifo('late', ['g', 'h']);
    const [running] = (await claim()).messages.filter((m) => m.id === ids[0]);
    // A message of g made before the running one but committed only now (a batching linger, a
    // re-sent insert): it is the group's lowest unfinished id, and due.
    const late = `${running!.id.slice(0, 9)}0000-7000-8000-000000000000`;
    expect(late < running!.id).toBe(true);
    await stack.sql.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at, group_key, group_head)
       VALUES (?, 'late', 't', '{}', 2, 'waiting', 0, 0, 3, ?, ?, ?, 'g', 'g')`,
      [late, clock.now(), clock.now(), clock.now()],
    );
    expect((await claim()).claimed).toBe(0);
    await markHeldDone(app.db, { held: [running!], now: clock.now() });
    expect((await claim()).messages.map((m) => m.id)).toEqual([late]);
  });

  it('lets concurrent claims take disjoint heads: a claim locks only the heads it takes, not every due head', async () => {
    const groups = Array.from({ length: 400 }, (_, n) => `g${n}`);
    const { clock } = await fifo('concurrent', groups);
    const now = clock.now();
    const leaseUntil = new Date(now.getTime() + LEASE_MS);
    const dbs = [stack.newDb(), stack.newDb(), stack.newDb(), stack.newDb()];
    // Four claims at once over the same candidates: each takes 50 heads no other took. (A claim
    // that locked every due head before sorting them left the others nothing while it ran.)
    for (let round = 0; round < 2; round++) {
      const heads = await findGroupHeads(dbs[0]!, { queue: 'concurrent', now, limit: 600 });
      const taken = await Promise.all(
        dbs.map((db) => claimGroupHeads(db, { queue: 'concurrent', heads, limit: 50, leaseToken: randomUUID(), now, leaseUntil, followers: false })),
      );
      expect(taken).toEqual([50, 50, 50, 50]);
    }
    const [rows] = await stack.sql.query(
      "SELECT COUNT(DISTINCT lease_token) AS claims, COUNT(*) AS n FROM queue_messages WHERE queue = 'concurrent' AND status = 'running'",
    );
    expect(rows).toEqual([{ claims: 8, n: 400 }]);
  });

  it("counts a follower's attempt when leased, and not again when its head's drain died before the head finished", async () => {
    const { app, clock, ids, claim } = await fifo('follower-crash', ['g', 'g', 'g']);
    const attempts = async () => {
      const [rows] = await stack.sql.query('SELECT id, attempts FROM queue_messages WHERE queue = ? ORDER BY id', ['follower-crash']);
      return (rows as { id: string; attempts: number }[]).map((row) => row.attempts);
    };
    expect((await claim({ followers: true })).messages.map((m) => m.id)).toEqual([ids[0], ids[1]]);
    expect(await attempts()).toEqual([1, 1, 0]);
    // The drain dies before the head's outcome: the follower never started. Leased again with its
    // head, its attempt is not counted twice; the head's is (it may have run).
    clock.advance(LEASE_MS);
    const again = await claim({ followers: true });
    expect(again.messages.map((m) => m.id)).toEqual([ids[0], ids[1]]);
    expect(await attempts()).toEqual([2, 1, 0]);
    // The head is done and the follower runs; its drain dies too: the follower may have run, so
    // when it leads and is claimed again, that counts.
    await markHeldDone(app.db, { held: again.messages.filter((m) => m.id === ids[0]), now: clock.now() });
    clock.advance(LEASE_MS);
    expect((await claim({ followers: true })).messages.map((m) => m.id)).toEqual([ids[1], ids[2]]);
    expect(await attempts()).toEqual([2, 2, 1]);
  });

  it('finds the heads with one index dive per group (a loose index scan), whatever the backlog and history', async () => {
    // 100 groups of 50 live messages, and as many finished: where a loose scan pays (on two rows,
    // the optimizer would rightly just read them).
    const rows = Array.from({ length: 10_000 }, (_, n) => {
      const id = `00000000-0000-7000-8000-${String(n).padStart(12, '0')}`;
      const group = `g${n % 100}`;
      return n < 5_000 ? [id, 'done', group, null, new Date()] : [id, 'waiting', group, group, null];
    });
    await stack.sql.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at, group_key, group_head, finished_at)
       SELECT j.id, 'plan', 't', '{}', 2, j.status, 0, 0, 3, NOW(3), NOW(3), NOW(3), j.grp, j.head, j.fin
       FROM JSON_TABLE(?, '$[*]' COLUMNS (id CHAR(36) PATH '$[0]', status VARCHAR(10) PATH '$[1]', grp VARCHAR(128) PATH '$[2]', head VARCHAR(128) PATH '$[3]', fin DATETIME(3) PATH '$[4]')) AS j`,
      [JSON.stringify(rows.map(([id, status, group, head, finished]) => [id, status, group, head, finished === null ? null : '2026-01-01 00:00:00']))],
    );
    await stack.sql.query('ANALYZE TABLE queue_messages');
    const now = new Date();
    const plan = await stack.db.query(`EXPLAIN ${FIND_GROUP_HEADS}`, { queue: 'plan', now, limit: 100 });
    const heads = plan.find((row) => row.key === 'ix_queue_messages_group')!;
    expect(String(heads.Extra)).toMatch(/Using index for group-by/);
    // The lease reads each candidate head and its slot by primary key, and a group's in-flight
    // rows through their own index: nothing scans the queue.
    const ids = Object.fromEntries(
      Array.from({ length: 100 }, (_, n) => [
        [`head${n}`, rows[5_000 + n]![0]],
        [`next${n}`, rows[5_100 + n]![0]],
      ]).flat(),
    );
    const claim = await stack.db.query(`EXPLAIN ${CLAIM_GROUP_HEADS(100)}`, {
      ...ids,
      queue: 'plan',
      now,
      limit: 100,
      leaseToken: 't',
      leaseUntil: now,
      followers: 1,
    });
    const byTable = (alias: string) => claim.filter((row) => row.table === alias);
    expect(byTable('h').map((row) => row.key)).toEqual(['PRIMARY']);
    expect(byTable('s').map((row) => row.key)).toEqual(['PRIMARY']);
    expect(byTable('r').map((row) => row.key)).toEqual(['ix_queue_messages_group_lease']);
    // The followers come with the candidates: the lease reads no group index past a head.
    expect(byTable('n')).toEqual([]);
    expect(plan.filter((row) => row.table === 'n').map((row) => row.key)).toEqual(['ix_queue_messages_group']);
    expect(claim.filter((row) => row.type === 'ALL' && String(row.table).match(/^(h|m|r|s)$/))).toEqual([]);
  });
});

describe('claimGroupHeads: the conformance subtests', () => {
  it('counts the rows it leased, each head and the follower leased with it', async () => {
    const { clock, ids } = await fifo('count', ['a', 'a', 'b', 'b', 'c']);
    const now = clock.now();
    const heads = await findGroupHeads(stack.db, { queue: 'count', now, limit: 10 });
    expect(heads.map((head) => [head.id, head.nextId])).toEqual([
      [ids[0], ids[1]],
      [ids[2], ids[3]],
      [ids[4], null],
    ]);
    const leaseUntil = new Date(now.getTime() + LEASE_MS);
    expect(await claimGroupHeads(stack.db, { queue: 'count', heads, limit: 2, leaseToken: 'x', now, leaseUntil, followers: true })).toBe(4);
    expect(await claimGroupHeads(stack.db, { queue: 'count', heads, limit: 10, leaseToken: 'y', now, leaseUntil, followers: true })).toBe(1);
    expect(await claimGroupHeads(stack.db, { queue: 'count', heads, limit: 10, leaseToken: 'z', now, leaseUntil, followers: true })).toBe(0);
  });

  it('finds the same heads when the read is re-sent after a lost reply, and does not re-send the lease: the caller sees the failure', async () => {
    const { clock } = await fifo('lost', ['a', 'b', 'a']);
    const now = clock.now();
    const { once, resent } = await onceAndResent(stack, {
      seed: async () => {},
      reset: async () => {},
      run: (db) => findGroupHeads(db, { queue: 'lost', now, limit: 10 }),
      lost: (sql) => sql === FIND_GROUP_HEADS,
      state: async () => {},
    });
    expect([resent.lost, resent.sent]).toEqual([1, 2]);
    expect(resent.result).toEqual(once.result);
    const lost = lostReplyDb(stack, { when: (sql) => sql.includes('FOR UPDATE SKIP LOCKED') });
    const leaseUntil = new Date(now.getTime() + LEASE_MS);
    const error = await claimGroupHeads(lost.db, { queue: 'lost', heads: once.result, limit: 10, leaseToken: 'l', now, leaseUntil, followers: false }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DataApiUnavailableError);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    // It ran: both heads wait out the lease it took.
    expect(await claimGroupHeads(stack.db, { queue: 'lost', heads: once.result, limit: 10, leaseToken: 'm', now, leaseUntil, followers: false })).toBe(0);
  });
});
