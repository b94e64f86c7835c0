import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { claimMessages, type Claim } from '../../lib/drain/claim.js';
import { Settler, type SettlerOptions } from '../../lib/drain/settle.js';
import { createDb } from '../../lib/db/index.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from '../support/stack.js';
import { appOn, jobType, readRows, seed } from './helpers.js';

const stack = useStack();

const T0 = '2026-01-01T00:00:00.000Z';

/** Retries within milliseconds, and all the time in the world unless a test says otherwise. */
function options(overrides: Partial<SettlerOptions> & Pick<SettlerOptions, 'flushSize' | 'lingerMs'>): SettlerOptions {
  return { giveUpBeforeLeaseEndMs: 1_000, hasTime: () => true, retryBackoff: { baseMs: 5, factor: 2, maxMs: 20 }, ...overrides };
}

/** A Db that does not re-send by itself: each injected fault fails one settle call. */
function singleShotDb() {
  return createDb({ endpoint: stack.endpoint, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database, unavailableRetry: { delaysMs: [] } });
}

async function claimed(queue: string, count: number, clock: ManualClock): Promise<Claim[]> {
  const app = appOn(stack, { queues: [{ name: queue }], jobTypes: [jobType('t', async () => {})], clock });
  await seed(
    app,
    Array.from({ length: count }, () => ({ queue, type: 't', maxAttempts: 3 })),
  );
  // Two claims: the settler must write outcomes of both leases in the same calls.
  const half = Math.ceil(count / 2);
  return [
    await claimMessages(app.db, { queue, limit: half, now: clock.now(), leaseMs: 60_000 }),
    await claimMessages(app.db, { queue, limit: count, now: clock.now(), leaseMs: 60_000 }),
  ];
}

describe('Settler', () => {
  it('writes the outcomes of several claims in one call per kind, each row checked against its own lease', async () => {
    const clock = new ManualClock(T0);
    const [a, b] = await claimed('group', 10, clock);
    const db = stack.newDb();
    const settler = new Settler(db, clock, options({ flushSize: 100, lingerMs: 60_000 }));
    const [a0, a1, a2, a3, a4] = a!.messages;
    const [b0, b1, b2, b3, b4] = b!.messages;
    const retryAt = new Date('2026-01-01T00:05:00.000Z');
    settler.done(a0!);
    settler.done(b0!);
    settler.retry({ ...a1!, availableAt: retryAt, error: 'later' });
    settler.retry({ ...b1!, availableAt: retryAt, error: 'later' });
    settler.dead({ ...a2!, error: 'never' });
    settler.dead({ ...b2!, error: 'never' });
    settler.release({ ...a3!, attempts: 1 });
    settler.release({ ...b3!, attempts: 1 });
    settler.cancel(a4!);
    settler.cancel(b4!);
    // A row presented with the wrong lease changes nothing.
    settler.done({ id: b3!.id, leaseToken: a!.leaseToken, leaseUntilMs: b3!.leaseUntilMs });
    expect(db.stats.calls).toBe(0); // still lingering
    expect(settler.unsettled).toBe(11);
    clock.advance(1_000);
    await settler.close();

    expect(db.stats.calls).toBe(5);
    expect(settler.counts).toEqual({ done: 2, retried: 2, dead: 2, cancelled: 2, released: 2, lostLeases: 1, unsettled: 0 });
    const rows = await readRows(stack, 'group');
    const finished = new Date('2026-01-01T00:00:01.000Z');
    expect(rows.get(a0!.id)).toMatchObject({ status: 'done', lease_token: a!.leaseToken, finished_at: finished });
    expect(rows.get(b1!.id)).toMatchObject({ status: 'retrying', available_at: retryAt, last_error: 'later', attempts: 1 });
    expect(rows.get(b2!.id)).toMatchObject({ status: 'dead', last_error: 'never', finished_at: finished });
    expect(rows.get(a3!.id)).toMatchObject({ status: 'waiting', attempts: 0, available_at: finished });
    expect(rows.get(b3!.id)).toMatchObject({ status: 'waiting', attempts: 0 });
    expect(rows.get(b4!.id)).toMatchObject({ status: 'cancelled', finished_at: finished });
  });

  it('writes without waiting for rows other transactions hold', async () => {
    const clock = new ManualClock(T0);
    const [a, b] = await claimed('busy', 6, clock);
    const holder = await stack.sql.getConnection();
    try {
      // Another drainer's claim, still in its statement: its rows are locked. Locked by primary
      // key: a lookup by lease_token could be planned as a table scan, which locks every row.
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM queue_messages FORCE INDEX (PRIMARY) WHERE id IN (?) FOR UPDATE', [b!.messages.map((m) => m.id)]);
      const settler = new Settler(stack.newDb(), clock, options({ flushSize: 100, lingerMs: 0 }));
      settler.done(a!.messages[0]!);
      settler.retry({ ...a!.messages[1]!, availableAt: clock.now(), error: 'e' });
      settler.dead({ ...a!.messages[2]!, error: 'e' });
      await settler.close();
      expect(settler.counts).toMatchObject({ done: 1, retried: 1, dead: 1 });
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
  });

  it('sends a full call at once and splits what is over flushSize', async () => {
    const clock = new ManualClock(T0);
    const [a, b] = await claimed('full', 10, clock);
    const db = stack.newDb();
    const settler = new Settler(db, clock, options({ flushSize: 4, lingerMs: 60_000 }));
    for (const message of [...a!.messages, ...b!.messages]) settler.done(message);
    await settler.close();
    expect(db.stats.calls).toBe(3); // 4 + 4 + 2
    expect(settler.counts.done).toBe(10);
  });

  it('counts a write whose reply was lost and was re-sent as settled, not as lost leases', async () => {
    const clock = new ManualClock(T0);
    const [a, b] = await claimed('resent', 6, clock);
    const db = stack.newDb();
    const settler = new Settler(db, clock, options({ flushSize: 100, lingerMs: 0 }));
    // Each settle statement runs, then its reply is lost: lib/db re-sends it (it is idempotent).
    stack.server.faults.inject({ kind: 'unavailable-after', count: 3, operations: ['Execute'] });
    settler.done(a!.messages[0]!);
    settler.retry({ ...a!.messages[1]!, availableAt: clock.now(), error: 'later' });
    settler.dead({ ...a!.messages[2]!, error: 'never' });
    await settler.close();
    expect(stack.server.faults.injected()).toBeGreaterThanOrEqual(3);
    expect(settler.counts).toMatchObject({ done: 1, retried: 1, dead: 1, lostLeases: 0 });
    // The token of another lease still matches nothing.
    const other = new Settler(stack.newDb(), clock, options({ flushSize: 100, lingerMs: 0 }));
    other.done({ ...a!.messages[0]!, leaseToken: b!.leaseToken });
    await other.close();
    expect(other.counts).toMatchObject({ done: 0, lostLeases: 1 });
  });

  it('retries a failed write in the next call of its kind until it lands', async () => {
    const clock = new ManualClock(T0);
    const [a] = await claimed('retried', 2, clock);
    stack.server.faults.inject({ kind: 'internal', count: 3 });
    const errors: string[] = [];
    const settler = new Settler(singleShotDb(), clock, options({ flushSize: 10, lingerMs: 0, onError: (what, rows) => errors.push(`${what}:${rows}`) }));
    settler.done(a!.messages[0]!);
    await settler.close();
    expect(settler.counts).toMatchObject({ done: 1, unsettled: 0 });
    expect(errors).toEqual(['ack:1', 'ack:1', 'ack:1']);
    expect((await readRows(stack, 'retried')).get(a!.messages[0]!.id)).toMatchObject({ status: 'done' });
  });

  it('gives a failing write up shortly before its lease ends, and leaves the message leased', async () => {
    const clock = new ManualClock(T0);
    const [a] = await claimed('fails', 2, clock);
    stack.server.faults.inject({ kind: 'internal', count: 1_000 });
    const givenUp: string[] = [];
    const settler = new Settler(
      singleShotDb(),
      clock,
      options({
        flushSize: 10,
        lingerMs: 0,
        // The outage outlasts the lease: by the second failure its end is within the give-up margin.
        onError: () => clock.advance(59_500),
        onGiveUp: (what, rows) => givenUp.push(`${what}:${rows}`),
      }),
    );
    settler.done(a!.messages[0]!);
    await settler.close();
    stack.server.faults.clear();
    expect(settler.counts).toMatchObject({ done: 0, unsettled: 1 });
    expect(givenUp).toEqual(['ack:1']);
    expect((await readRows(stack, 'fails')).get(a!.messages[0]!.id)).toMatchObject({ status: 'running', lease_token: a!.leaseToken });
  });

  it('gives up what is unwritten once the run has no time left', async () => {
    const clock = new ManualClock(T0);
    const [a] = await claimed('late', 2, clock);
    stack.server.faults.inject({ kind: 'internal', count: 1_000 });
    let time = true;
    const settler = new Settler(singleShotDb(), clock, options({ flushSize: 10, lingerMs: 0, hasTime: () => time, onError: () => (time = false) }));
    settler.done(a!.messages[0]!);
    settler.retry({ ...a!.messages[1]!, availableAt: clock.now(), error: 'e' });
    await settler.close();
    stack.server.faults.clear();
    expect(settler.counts).toMatchObject({ done: 0, retried: 0, unsettled: 2 });
  });

  it('writes a given-up outcome under a later lease of the same message instead of losing it', async () => {
    const clock = new ManualClock(T0);
    const [a] = await claimed('again', 1, clock);
    const message = a!.messages[0]!;
    stack.server.faults.inject({ kind: 'internal', count: 1_000 });
    const settler = new Settler(singleShotDb(), clock, options({ flushSize: 10, lingerMs: 0, onError: () => clock.advance(59_500) }));
    settler.done(message);
    await settler.close();
    stack.server.faults.clear();
    expect(settler.counts.unsettled).toBe(1);

    // The lease ends and the same run claims the message again.
    clock.advance(1_000);
    const [again] = (await claimMessages(stack.newDb(), { queue: 'again', limit: 10, now: clock.now(), leaseMs: 60_000 })).messages;
    expect(settler.resettle(again!)).toBe(true);
    expect(settler.resettle(again!)).toBe(false);
    await settler.close();
    expect(settler.counts).toMatchObject({ done: 1, unsettled: 0 });
    expect((await readRows(stack, 'again')).get(message.id)).toMatchObject({ status: 'done', lease_token: again!.leaseToken });
  });

  it("stores a group's results in one more call only when some message has one, and only under a lease still held", async () => {
    const clock = new ManualClock(T0);
    const [a, b] = await claimed('results', 4, clock);
    const [m0, m1] = a!.messages;
    const [m2, m3] = b!.messages;
    // No result in the group: one call, the mark.
    const plain = stack.newDb();
    const first = new Settler(plain, clock, options({ flushSize: 100, lingerMs: 60_000 }));
    first.done(m0!);
    await first.close();
    expect(plain.stats.calls).toBe(1);
    // m3 was claimed again by another drain (its lease ran out): its result and its mark land nowhere.
    await stack.sql.query("UPDATE queue_messages SET lease_token = 'another-drain' WHERE id = ?", [m3!.id]);
    const db = stack.newDb();
    const settler = new Settler(db, clock, options({ flushSize: 100, lingerMs: 60_000 }));
    settler.done({ ...m1!, result: '{"sid":"SM1"}' });
    settler.done(m2!);
    settler.done({ ...m3!, result: '"lost"' });
    await settler.close();
    expect(db.stats.calls).toBe(2);
    expect(settler.counts).toMatchObject({ done: 2, lostLeases: 1 });
    const [rows] = (await stack.sql.query('SELECT message_id, lease_token, result FROM queue_message_outputs ORDER BY message_id')) as any;
    expect(rows).toEqual([{ message_id: m1!.id, lease_token: a!.leaseToken, result: '{"sid":"SM1"}' }]);
    expect(b!.leaseToken).not.toBe(a!.leaseToken);
  });
});
