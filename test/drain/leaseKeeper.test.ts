/** LeaseKeeper: one grouped heartbeat per lane, only the lost leases reported, nothing sent for short work. */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.js';
import { LeaseKeeper, type KeptLease } from '../../lib/drain/leaseKeeper.js';
import { silentLog } from '../../lib/drain/types.js';
import { EXTEND_HELD_LEASES } from '../../lib/sql/extendHeldLeases.js';
import { heldIds, idOf, insertFixtures, recordingDb } from '../support/statements.js';
import { useStack } from '../support/stack.js';
import { waitFor } from '../support/waitFor.js';

const stack = useStack();
const LEASE_MS = 900;

async function held(queue: string, base: number, count: number): Promise<KeptLease[]> {
  const untilMs = Date.now() + LEASE_MS;
  const messages = Array.from({ length: count }, (_, i) => ({ id: idOf(base + i), leaseToken: `lease-${queue}`, leaseUntilMs: untilMs }));
  await insertFixtures(
    stack,
    messages.map((m) => ({ id: m.id, queue, status: 'running' as const, attempts: 1, leaseToken: m.leaseToken, availableAt: new Date(untilMs) })),
  );
  return messages;
}

function newKeeper(queue: string, lost: { messages: readonly KeptLease[]; reason: string }[] = []) {
  const db = recordingDb(stack.newDb());
  const keeper = new LeaseKeeper({
    db,
    clock: systemClock,
    queue,
    leaseMs: LEASE_MS,
    log: silentLog,
    onLost: (messages, reason) => lost.push({ messages, reason }),
  });
  return { db, keeper, lost };
}

const storedUntil = async (id: string) => {
  const [[row]] = (await stack.sql.query('SELECT available_at FROM queue_messages WHERE id = ?', [id])) as any;
  return (row.available_at as Date).getTime();
};

describe('LeaseKeeper', () => {
  it('beats every held message in one statement once a third of the lease has passed, and follows the new lease end', async () => {
    const messages = await held('grouped', 0, 5);
    const { db, keeper } = newKeeper('grouped');
    const firstEnd = messages[0]!.leaseUntilMs;
    for (const m of messages) keeper.keep(m);
    await waitFor(async () => keeper.beats >= 2, 5_000, 'two beats');
    await keeper.close();
    const beats = db.calls.filter((c) => c.sql === EXTEND_HELD_LEASES);
    expect(beats.length).toBe(keeper.beats);
    // One row per message in every beat: one call however many messages.
    expect(heldIds(beats[0]!.params)).toHaveLength(5);
    for (const m of messages) {
      expect(m.leaseUntilMs).toBeGreaterThan(firstEnd);
      expect(await storedUntil(m.id)).toBe(m.leaseUntilMs);
    }
  });

  it("keeps the claims' run permits as long as their messages' leases, on a queue with a queue-wide concurrency", async () => {
    const messages = await held('permits', 500, 2);
    await stack.sql.query(
      `INSERT INTO queue_permits (queue, kind, slot, free_at, held_by) VALUES ('permits', 'run', 0, ?, 'lease-permits'), ('permits', 'run', 1, ?, 'lease-permits')`,
      [new Date(messages[0]!.leaseUntilMs), new Date(messages[0]!.leaseUntilMs)],
    );
    const db = stack.newDb();
    const keeper = new LeaseKeeper({ db, clock: systemClock, queue: 'permits', leaseMs: LEASE_MS, log: silentLog, runPermits: true, onLost: () => {} });
    for (const m of messages) keeper.keep(m);
    await waitFor(async () => keeper.beats >= 2, 5_000, 'two beats');
    await keeper.close();
    const [rows] = (await stack.sql.query(`SELECT free_at FROM queue_permits WHERE queue = 'permits'`)) as any;
    expect(rows.map((row: any) => row.free_at.getTime())).toEqual([messages[0]!.leaseUntilMs, messages[0]!.leaseUntilMs]);
  });

  it('sends nothing for messages that end within a third of the lease', async () => {
    const messages = await held('short', 100, 3);
    const { db, keeper } = newKeeper('short');
    for (const m of messages) keeper.keep(m);
    for (const m of messages) keeper.drop(m.id);
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
    await keeper.close();
    expect(db.calls).toEqual([]);
  });

  it('reports only the leases another drain took over, and keeps beating the rest', async () => {
    const messages = await held('lost', 200, 3);
    const { keeper, lost } = newKeeper('lost');
    for (const m of messages) keeper.keep(m);
    await stack.sql.query(`UPDATE queue_messages SET lease_token = 'another' WHERE id = ?`, [messages[1]!.id]);
    await waitFor(async () => keeper.beats >= 2, 5_000, 'two beats');
    await keeper.close();
    expect(lost).toHaveLength(1);
    expect(lost[0]!.messages.map((m) => m.id)).toEqual([messages[1]!.id]);
    expect(lost[0]!.reason).toMatch(/taken over/);
    expect(await storedUntil(messages[0]!.id)).toBe(messages[0]!.leaseUntilMs);
  });

  it('reports a lease lost when it runs out with every beat failing', async () => {
    const messages = await held('outage', 300, 1);
    const lost: { messages: readonly KeptLease[]; reason: string }[] = [];
    const failing = { ...stack.newDb(), execute: () => Promise.reject(new Error('outage')) };
    const keeper = new LeaseKeeper({
      db: failing,
      clock: systemClock,
      queue: 'outage',
      leaseMs: LEASE_MS,
      log: silentLog,
      onLost: (m, reason) => lost.push({ messages: m, reason }),
    });
    keeper.keep(messages[0]!);
    await waitFor(async () => lost.length > 0, 5_000, 'the lease to be reported lost');
    await keeper.close();
    expect(lost[0]!.reason).toMatch(/ran out/);
  });

  it('extend: one call for one message, at once; rejects when its lease is gone', async () => {
    const [mine, theirs] = await held('extend', 400, 2);
    const { db, keeper, lost } = newKeeper('extend');
    await keeper.extend(mine!, 60_000);
    expect(db.calls.filter((c) => c.sql === EXTEND_HELD_LEASES)).toHaveLength(1);
    expect(mine!.leaseUntilMs).toBeGreaterThan(Date.now() + 50_000);
    expect(await storedUntil(mine!.id)).toBe(mine!.leaseUntilMs);
    await stack.sql.query(`UPDATE queue_messages SET lease_token = 'another' WHERE id = ?`, [theirs!.id]);
    await expect(keeper.extend(theirs!, 60_000)).rejects.toThrow(/lost/);
    expect(lost.map((l) => l.messages.map((m) => m.id))).toEqual([[theirs!.id]]);
    await keeper.close();
  });
});
