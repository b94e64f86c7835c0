import { describe, expect, it } from 'vitest';
import { worstCaseResponseBytes } from '../../dev/data-api/results.js';
import { ManualClock } from '../../lib/clock.js';
import { claimMessages, DEFAULT_MAX_PAGE_BYTES, HeadCandidates } from '../../lib/drain/claim.js';
import { DataApiUnavailableError } from '../../lib/db/errors.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { JSON_RECORDS_ROW_BYTES_PARAMS, ROW_OVERHEAD_BYTES } from '../../lib/sql/responseBytes.js';
import { useStack } from '../support/stack.js';
import { appOn, CLAIM_STATEMENT_TEXT, jobType, readRows, seed } from './helpers.js';

const stack = useStack();

const T0 = '2026-01-01T00:00:00.000Z';

async function seeded(queue: string, count: number, payload: unknown = {}) {
  const clock = new ManualClock(T0);
  const app = appOn(stack, { queues: [{ name: queue }], jobTypes: [jobType('t', async () => {})], clock });
  const ids = await seed(
    app,
    Array.from({ length: count }, () => ({ queue, type: 't', payload })),
  );
  return { app, clock, ids };
}

/** A FIFO queue with one message per entry of `groups`, in that order. */
async function seededFifo(queue: string, groups: readonly string[]) {
  const clock = new ManualClock(T0);
  const app = appOn(stack, { queues: [{ name: queue, fifo: true }], jobTypes: [jobType('t', async () => {})], clock });
  const ids = await seed(
    app,
    groups.map((groupKey) => ({ queue, type: 't', groupKey })),
  );
  return { app, clock, ids };
}

describe('claimMessages', () => {
  it('leases due messages until a deadline, counts the attempt, and reads them back', async () => {
    const { app, clock, ids } = await seeded('lease', 3, { n: 1 });
    const claim = await claimMessages(app.db, { queue: 'lease', limit: 10, now: clock.now(), leaseMs: 45_000 });
    expect(claim.claimed).toBe(3);
    expect(claim.leaseUntil).toEqual(new Date('2026-01-01T00:00:45.000Z'));
    expect(claim.messages.map((m) => m.id)).toEqual(ids);
    expect(claim.messages[0]).toMatchObject({ queue: 'lease', type: 't', payload: { n: 1 }, attempts: 1, maxAttempts: 3, leaseToken: claim.leaseToken });
    const rows = [...(await readRows(stack, 'lease')).values()];
    expect(rows.every((row) => row.status === 'running' && row.lease_token === claim.leaseToken)).toBe(true);
    expect(rows.every((row) => row.available_at.getTime() === claim.leaseUntil.getTime())).toBe(true);
  });

  it('makes no read when nothing was claimed', async () => {
    const { app, clock } = await seeded('nothing', 0);
    const db = stack.newDb();
    const claim = await claimMessages(db, { queue: 'nothing', limit: 10, now: clock.now(), leaseMs: 1_000 });
    expect(claim).toMatchObject({ claimed: 0, messages: [] });
    expect(db.stats.calls).toBe(1);
    void app;
  });

  it('skips rows another transaction holds, and uncommitted enqueues, instead of waiting for them', async () => {
    const { app, clock } = await seeded('skip', 30);
    const holder = await stack.sql.getConnection();
    try {
      await holder.query('BEGIN');
      const [locked] = await holder.query(
        `SELECT id FROM queue_messages WHERE queue = 'skip' AND finished_at IS NULL ORDER BY priority DESC, available_at LIMIT 10 FOR UPDATE`,
      );
      // An outbox enqueue inside a caller's open transaction, due before all the others.
      await holder.query(
        `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at)
         VALUES ('00000000-0000-7000-8000-000000000001', 'skip', 't', '{}', 2, 'waiting', 0, 0, 3, '2025-12-31', '2025-12-31', '2025-12-31')`,
      );
      // Were the claim to wait for these locks, it would hang until the lock wait timeout, long
      // after the holder below lets go; it returns at once with the rest.
      const claim = await claimMessages(app.db, { queue: 'skip', limit: 100, now: clock.now(), leaseMs: 60_000 });
      expect(claim.claimed).toBe(20);
      const lockedIds = new Set((locked as { id: string }[]).map((row) => row.id));
      expect(claim.messages.some((m) => lockedIds.has(m.id))).toBe(false);
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
  });

  it('never hands the same message to two claims running at once', async () => {
    const { app, clock } = await seeded('race', 600);
    const dbs = Array.from({ length: 8 }, () => stack.newDb());
    const claims = await Promise.all(
      Array.from({ length: 16 }, (_, i) => claimMessages(dbs[i % dbs.length]!, { queue: 'race', limit: 50, now: clock.now(), leaseMs: 60_000 })),
    );
    const ids = claims.flatMap((claim) => claim.messages.map((m) => m.id));
    expect(ids).toHaveLength(600);
    expect(new Set(ids).size).toBe(600);
    expect(claims.reduce((sum, claim) => sum + claim.claimed, 0)).toBe(600);
    void app;
  });

  it('reads a claim in pages bounded by payload bytes, at least one message a page', async () => {
    const { clock } = await seeded('pages', 5, { text: 'x'.repeat(1_000) });
    const db = stack.newDb();
    const claim = await claimMessages(db, { queue: 'pages', limit: 10, now: clock.now(), leaseMs: 60_000, maxPageBytes: 1 });
    expect(claim.messages).toHaveLength(5);
    expect(db.stats.calls).toBe(1 + 5);
  });
});

describe("claim reads under the Data API's response limits, whatever it escapes", () => {
  /*
   * Claimed messages are read as JSON records (formattedRecords, capped at 10 MB), each value's
   * text escaped once more in the response; a page is cut as if the 1 MiB response limit counted
   * that twice-escaped text (lib/sql/responseBytes.ts). A claimed row without a group key counts
   * 1 KiB and 4 bytes per stored payload byte.
   */
  const payloadFactor = JSON_RECORDS_ROW_BYTES_PARAMS.payloadFactor;
  const rowWorst = (payload: unknown) => ROW_OVERHEAD_BYTES + payloadFactor * Buffer.byteLength(JSON.stringify(payload));

  /** A payload of `unit` repeated to about `bytes` of JSON text, then ASCII to exactly `bytes`. */
  function payloadOf(unit: string, bytes: number): { s: string } {
    const payload = { s: unit.repeat(Math.floor((bytes - 12) / Buffer.byteLength(JSON.stringify(unit).slice(1, -1)))) };
    while (Buffer.byteLength(JSON.stringify(payload)) < bytes) payload.s += 'x';
    return payload;
  }

  /**
   * Mostly payloads that grow the most (3 bytes per stored byte: 'é', an emoji), so the response
   * nears 1 MiB, with 3-byte, quote-heavy, control-character and mixed ones beside them.
   */
  const MIX: [string, number][] = [
    ...['é', '😀', 'é', '😀', 'é', '😀'].map((unit): [string, number] => [unit, 30_000]),
    ['中', 20_000],
    ['"', 10_000],
    ['\u0001', 10_000],
    ['é"\\\n中😀\u001f', 10_000],
  ];

  it('reads every message of a page right at the budget in one call, and the next byte splits it', async () => {
    for (const [queue, extra] of [
      ['edge', 0],
      ['past', 1],
    ] as const) {
      const payloads = MIX.map(([unit, bytes]) => payloadOf(unit, bytes));
      const used = payloads.reduce((sum, payload) => sum + rowWorst(payload), 0);
      // The last message takes what is left of the budget (its payload in 'é', 3 per byte).
      const left = DEFAULT_MAX_PAGE_BYTES - used - rowWorst({});
      const last = payloadOf('é', Buffer.byteLength('{}') + Math.floor(left / payloadFactor) + extra);
      payloads.push(last);
      const total = payloads.reduce((sum, payload) => sum + rowWorst(payload), 0);
      if (extra === 0) expect(DEFAULT_MAX_PAGE_BYTES - total).toBeOneOf([0, 1, 2, 3]);
      else expect(total).toBeGreaterThan(DEFAULT_MAX_PAGE_BYTES);
      // The payloads alone, each escaped once in formattedRecords with every non-ASCII character
      // as \uXXXX: over 60% of 1 MiB (the budget keeps a fourth for the second escape).
      const escaped = payloads.reduce((sum, payload) => sum + worstCaseResponseBytes(JSON.stringify(JSON.stringify(payload))), 0);
      expect(escaped).toBeGreaterThan(0.6 * 1_048_576);

      const clock = new ManualClock(T0);
      const app = appOn(stack, { queues: [{ name: queue }], jobTypes: [jobType('t', async () => {})], clock });
      const ids = await seed(
        app,
        payloads.map((payload) => ({ queue, type: 't', payload })),
      );
      const db = stack.newDb();
      const claim = await claimMessages(db, { queue, limit: 100, now: clock.now(), leaseMs: 60_000 });
      expect(claim.messages.map((m) => m.id)).toEqual(ids);
      expect(claim.messages.map((m) => JSON.stringify(m.payload))).toEqual(payloads.map((payload) => JSON.stringify(payload)));
      // The claim, then one read at the edge; one byte more (four in the budget) and the last message takes a read of its own.
      expect(db.stats.calls).toBe(extra === 0 ? 2 : 3);
    }
  });

  it('splits a page the old budget (384 KiB of payload, 2x growth) let through, which passes 1 MiB in one read', async () => {
    const queue = 'oldbudget';
    const payloads = Array.from({ length: 8 }, (_, i) => payloadOf(i % 2 === 0 ? 'é' : '😀', 50_000));
    // The old budget: a row is in the page when its payload bytes and 512 start below 384 KiB.
    let start = 0;
    for (const payload of payloads) {
      expect(start).toBeLessThan(384 * 1_024);
      start += Buffer.byteLength(JSON.stringify(payload)) + 512;
    }
    const clock = new ManualClock(T0);
    const app = appOn(stack, { queues: [{ name: queue }], jobTypes: [jobType('t', async () => {})], clock });
    const ids = await seed(
      app,
      payloads.map((payload) => ({ queue, type: 't', payload })),
    );
    const db = stack.newDb();
    const claim = await claimMessages(db, { queue, limit: 100, now: clock.now(), leaseMs: 60_000 });
    expect(claim.messages.map((m) => m.id)).toEqual(ids);
    expect(claim.messages.map((m) => JSON.stringify(m.payload))).toEqual(payloads.map((payload) => JSON.stringify(payload)));
    // 201 KB each at worst: 5 fit a page, so two reads.
    expect(db.stats.calls).toBe(1 + 2);
  });
});

describe('claimMessages when the claim statement ran and its reply was lost', () => {
  /** The next claim statement runs, then the Data API answers 503 (lib/db does not re-send it: it is not idempotent). */
  const loseNextClaimReply = () => {
    const before = stack.server.faults.injected();
    stack.server.faults.inject({ kind: 'unavailable-after', operations: ['Execute'], statementContains: CLAIM_STATEMENT_TEXT });
    return { fired: () => stack.server.faults.injected() - before };
  };

  it('reads what it leased back by its token: the messages run now, not a lease later, each attempt counted once', async () => {
    const { app, clock, ids } = await seeded('lost-reply', 3);
    const lost = loseNextClaimReply();
    const claim = await claimMessages(app.db, { queue: 'lost-reply', limit: 10, now: clock.now(), leaseMs: 60_000 });
    expect(lost.fired()).toBe(1);
    expect(claim.claimed).toBe(3);
    expect(claim.messages.map((m) => [m.id, m.attempts, m.leaseToken])).toEqual(ids.map((id) => [id, 1, claim.leaseToken]));
  });

  it('fails when the statement leased nothing, as when it did not run', async () => {
    const { app, clock } = await seeded('lost-empty', 0);
    const lost = loseNextClaimReply();
    await expect(claimMessages(app.db, { queue: 'lost-empty', limit: 10, now: clock.now(), leaseMs: 60_000 })).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect(lost.fired()).toBe(1);
  });

  it('on a FIFO queue, takes the heads and their followers', async () => {
    const queue = 'lost-fifo';
    const { app, clock, ids } = await seededFifo(queue, ['a', 'b', 'a', 'b']);
    const lost = loseNextClaimReply();
    const claim = await claimMessages(app.db, { queue, limit: 10, now: clock.now(), leaseMs: 60_000, fifo: true, heads: new HeadCandidates() });
    expect(lost.fired()).toBe(1);
    expect(claim.messages.map((m) => m.id).sort()).toEqual([...ids].sort());
  });

  it('on a fair queue, whose claim is one statement', async () => {
    const clock = new ManualClock(T0);
    const queue = 'lost-fair';
    const app = appOn(stack, { queues: [{ name: queue, groups: { fair: true } }], jobTypes: [jobType('t', async () => {})], clock });
    const ids = await seed(
      app,
      ['a', 'b', 'a'].map((groupKey) => ({ queue, type: 't', groupKey })),
    );
    const db = stack.newDb();
    const lost = loseNextClaimReply();
    const claim = await claimMessages(db, { queue, limit: 10, now: clock.now(), leaseMs: 60_000, groups: { fair: true } });
    expect(lost.fired()).toBe(1);
    expect(claim.messages.map((m) => m.id).sort()).toEqual([...ids].sort());
    // The statement, then the read-back until an empty page (how many it leased is unknown): no second claim.
    expect(db.stats.calls).toBe(3);
  });

  it('under queue-wide limits, keeps the permits of what it leased and gives back the rest', async () => {
    const { app, clock } = await seeded('lost-permits', 2);
    const lost = loseNextClaimReply();
    const limits = { run: { slots: 5 } };
    const claim = await claimMessages(app.db, { queue: 'lost-permits', limit: 5, now: clock.now(), leaseMs: 60_000, permits: limits });
    expect(lost.fired()).toBe(1);
    expect(claim).toMatchObject({ claimed: 2, permitted: 5 });
    const [held] = await stack.sql.query("SELECT COUNT(*) AS n FROM queue_permits WHERE queue = 'lost-permits' AND held_by = ?", [claim.leaseToken]);
    expect(Number((held as { n: number }[])[0]!.n)).toBe(2);
  });
});

describe('claimMessages under queue-wide limits, when a call fails', () => {
  const heldPermits = async (queue: string) => {
    const [rows] = await stack.sql.query('SELECT COUNT(*) AS n FROM queue_permits WHERE queue = ? AND held_by IS NOT NULL AND free_at > ?', [
      queue,
      new Date(T0),
    ]);
    return Number((rows as { n: number }[])[0]!.n);
  };

  it('gives back the permits a take took when its answer was lost', async () => {
    const { app, clock } = await seeded('lost-take', 2);
    const limits = { run: { slots: 5 } };
    stack.server.faults.inject({ kind: 'unavailable-after', operations: ['Execute'], statementContains: 'held_by = :leaseToken' });
    await expect(claimMessages(app.db, { queue: 'lost-take', limit: 5, now: clock.now(), leaseMs: 60_000, permits: limits })).rejects.toBeInstanceOf(
      DataApiUnavailableError,
    );
    expect(await heldPermits('lost-take')).toBe(0);
    expect(await claimMessages(app.db, { queue: 'lost-take', limit: 5, now: clock.now(), leaseMs: 60_000, permits: limits })).toMatchObject({
      claimed: 2,
      permitted: 5,
    });
  });

  it('gives back every permit when the claim lost its answer and the read-back failed too', async () => {
    const { app, clock } = await seeded('lost-read', 2);
    const limits = { run: { slots: 5 } };
    stack.server.faults.inject({ kind: 'unavailable-after', operations: ['Execute'], statementContains: CLAIM_STATEMENT_TEXT });
    // The read-back is re-sent by lib/db: refuse it more often than that.
    stack.server.faults.inject({ kind: 'unavailable', count: 10, operations: ['Execute'], statementContains: 'running_bytes' });
    await expect(claimMessages(app.db, { queue: 'lost-read', limit: 5, now: clock.now(), leaseMs: 60_000, permits: limits })).rejects.toBeInstanceOf(
      DataApiUnavailableError,
    );
    stack.server.faults.clear();
    expect(await heldPermits('lost-read')).toBe(0);
  });
});

describe('claimMessages under queue-wide limits', () => {
  it('takes permits first and claims no more than they allow; permit rows removed come back at the recheck', async () => {
    const { app, clock } = await seeded('limited', 10);
    const limits = { run: { slots: 3 } };
    const first = await claimMessages(app.db, { queue: 'limited', limit: 10, now: clock.now(), leaseMs: 60_000, permits: limits });
    expect(first).toMatchObject({ claimed: 3, permitted: 3 });
    await stack.sql.query("DELETE FROM queue_permits WHERE queue = 'limited'");
    // Known to exist in this process: not looked for again at once, so none to take.
    expect(await claimMessages(app.db, { queue: 'limited', limit: 10, now: clock.now(), leaseMs: 60_000, permits: limits })).toMatchObject({
      claimed: 0,
      permitted: 0,
    });
    clock.advance(5 * 60_000);
    expect(await claimMessages(app.db, { queue: 'limited', limit: 10, now: clock.now(), leaseMs: 60_000, permits: limits })).toMatchObject({
      claimed: 3,
      permitted: 3,
    });
  });
});

describe('claimMessages on a FIFO queue', () => {
  it('reads the heads once for several claims: what is left of the read, then the message after each finished group', async () => {
    const queue = 'ordered';
    // Groups a, b, c with three messages each, in that order.
    const { app, clock, ids } = await seededFifo(queue, ['a', 'b', 'c', 'a', 'b', 'c', 'a', 'b', 'c']);
    const db = stack.newDb();
    const heads = new HeadCandidates();
    const claim = () => claimMessages(db, { queue, limit: 2, now: clock.now(), leaseMs: 60_000, fifo: true, heads });
    const calls = async (work: () => Promise<unknown>) => {
      const before = db.stats.calls;
      await work();
      return db.stats.calls - before;
    };
    let first: Awaited<ReturnType<typeof claim>> | undefined;
    // Slots, the heads read, the claim, the read: the heads of a and b (the first two it could
    // lock), each with its follower.
    expect(await calls(async () => (first = await claim()))).toBe(4);
    expect(first!.messages.map((m) => m.id)).toEqual([ids[0], ids[1], ids[3], ids[4]]);
    // c's head is left from the read: no read of the heads for it.
    let second: Awaited<ReturnType<typeof claim>> | undefined;
    expect(await calls(async () => (second = await claim()))).toBe(2);
    expect(second!.messages.map((m) => m.id)).toEqual([ids[2], ids[5]]);
    // a's two are done: the message read after the last leads a now, claimed without a read.
    const [a1, , a2] = first!.messages;
    await markHeldDone(app.db, { held: [a1!, a2!], now: clock.now() });
    expect(a2!.nextInGroup).toEqual([ids[6], null]);
    heads.finished(a2!);
    let third: Awaited<ReturnType<typeof claim>> | undefined;
    expect(await calls(async () => (third = await claim()))).toBe(2);
    expect(third!.messages.map((m) => m.id)).toEqual([ids[6]]);
    // Nothing left: the heads are read again, and every group is in flight.
    expect(await calls(async () => expect((await claim()).claimed).toBe(0))).toBe(1);
  });

  it('reads the heads again once its last read is half a second old', async () => {
    const queue = 'stale';
    const { app, clock, ids } = await seededFifo(queue, ['a', 'b']);
    const heads = new HeadCandidates();
    const claim = () => claimMessages(app.db, { queue, limit: 1, now: clock.now(), leaseMs: 60_000, fifo: true, heads });
    expect((await claim()).messages.map((m) => m.id)).toEqual([ids[0]]);
    // A group that became due since the read is seen once the read is old, even while b is left.
    const [late] = await seed(app, [{ queue, type: 't', groupKey: 'c' }]);
    clock.advance(501);
    const left = heads.left(clock.now().getTime());
    expect(left).toBeUndefined();
    expect((await claimMessages(app.db, { queue, limit: 2, now: clock.now(), leaseMs: 60_000, fifo: true, heads })).messages.map((m) => m.id)).toEqual([
      ids[1],
      late,
    ]);
  });
});
