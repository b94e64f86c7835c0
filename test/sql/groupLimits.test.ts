/** A grouped queue's claim: per-group concurrency and rate across claims, fairness, pause, overrides. */
import { describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { ManualClock } from '../../lib/clock.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { claimMessages } from '../../lib/drain/claim.js';
import {
  CLAIM_FAIR_MESSAGES,
  CLAIM_GROUP_MESSAGES,
  claimFairMessages,
  extendGroupRatePermits,
  claimGroupMessages,
  ensureGroupPermits,
  ensureGroups,
  FIND_FAIR_GROUP_CANDIDATES,
  findGroupCandidates,
} from '../../lib/sql/groupLimits.js';
import { readClaimedMessages } from '../../lib/sql/readClaimedMessages.js';
import { setGroupSettings } from '../../lib/sql/groupSettings.js';
import { appOn, jobType, seed } from '../drain/helpers.js';
import { statementsOf, withoutGroupLeaseIndex } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const T0 = '2026-01-01T00:00:00.000Z';
const LEASE_MS = 30_000;

interface Limits {
  concurrency?: number;
  ratePerSecond?: number;
  fair?: boolean;
}

async function grouped(queue: string, groups: readonly string[], limits: Limits) {
  const clock = new ManualClock(T0);
  const app = appOn(stack, { queues: [{ name: queue, groups: limits }], jobTypes: [jobType('t', async () => {})], clock });
  const ids = await seed(
    app,
    groups.map((groupKey) => ({ queue, type: 't', groupKey })),
  );
  /** One claim as the drain makes it: candidates, missing rows, the lease, the read-back. */
  const claim = async (limit = 100) => {
    const leaseToken = randomUUID();
    const now = clock.now();
    const { candidates } = await findGroupCandidates(app.db, {
      queue,
      now,
      limit: 300,
      perGroup: limit * 4,
      concurrency: limits.concurrency,
      fair: limits.fair === true,
    });
    await ensureGroups(app.db, { queue, groups: candidates.filter((c) => !c.known).map((c) => c.groupKey), now });
    if (limits.ratePerSecond !== undefined) {
      await ensureGroupPermits(app.db, {
        queue,
        groups: new Map(candidates.map((c) => [c.groupKey, Math.ceil(c.ratePerSecond ?? limits.ratePerSecond!)])),
        now,
      });
    }
    await claimGroupMessages(app.db, {
      queue,
      candidates,
      limit,
      concurrency: limits.concurrency,
      ratePerSecond: limits.ratePerSecond,
      rateLimited: limits.ratePerSecond !== undefined,
      leaseToken,
      now,
      leaseUntil: new Date(now.getTime() + LEASE_MS),
    });
    const messages = (await readClaimedMessages(app.db, { leaseToken, maxBytes: 1_000_000 })).map((m) => ({ ...m, leaseToken }));
    return messages;
  };
  return { app, clock, ids, claim };
}

const byGroup = (messages: readonly { groupKey: string | null }[]) => {
  const counts: Record<string, number> = {};
  for (const m of messages) counts[m.groupKey!] = (counts[m.groupKey!] ?? 0) + 1;
  return counts;
};

describe('claimGroupMessages', () => {
  it('holds each group to its concurrency across claims, and takes more as its messages finish', async () => {
    const { app, clock, claim } = await grouped('gconc', ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'c'], { concurrency: 2 });
    const first = await claim();
    expect(byGroup(first)).toEqual({ a: 2, b: 2, c: 1 });
    // Every group is at its limit (or empty): a second claim takes nothing.
    expect(await claim()).toEqual([]);
    await markHeldDone(app.db, { held: first.filter((m) => m.groupKey === 'a').slice(0, 1), now: clock.now() });
    expect(byGroup(await claim())).toEqual({ a: 1 });
  });

  it('gives a group whose messages lost their lease its capacity back', async () => {
    const { clock, claim } = await grouped('glease', ['a', 'a', 'a'], { concurrency: 1 });
    expect((await claim()).length).toBe(1);
    expect((await claim()).length).toBe(0);
    clock.advance(LEASE_MS + 1);
    // The expired one is due again and counts no longer: one of the three runs.
    expect((await claim()).length).toBe(1);
  });

  it('starts at most ratePerSecond of a group in a window, and more a window later', async () => {
    const { clock, claim } = await grouped('grate', [...Array(10).fill('a'), ...Array(3).fill('b')], { ratePerSecond: 2 });
    expect(byGroup(await claim())).toEqual({ a: 2, b: 2 });
    clock.advance(500);
    expect(await claim()).toEqual([]);
    clock.advance(600);
    expect(byGroup(await claim())).toEqual({ a: 2, b: 1 });
  });

  it('shares a claim across groups round-robin when fair, whatever the backlog of the first', async () => {
    const big = Array(200).fill('big');
    const small = Array.from({ length: 20 }, (_, i) => `small-${i}`);
    const { claim } = await grouped('gfair', [...big, ...small], { fair: true });
    const first = await claim(21);
    expect(byGroup(first)).toEqual(Object.fromEntries([['big', 1], ...small.map((g) => [g, 1])]));
  });

  it('without fairness, takes messages in due order', async () => {
    const { claim } = await grouped('gunfair', [...Array(50).fill('big'), 'late'], {});
    expect(byGroup(await claim(10))).toEqual({ big: 10 });
  });

  it('does not claim a paused group, and a group override wins over the queue', async () => {
    const { app, clock, claim } = await grouped('gpause', ['a', 'a', 'a', 'b', 'b', 'b'], { concurrency: 1 });
    await setGroupSettings(app.db, { queue: 'gpause', groupKey: 'a', paused: true, now: clock.now() });
    await setGroupSettings(app.db, { queue: 'gpause', groupKey: 'b', concurrency: 3, now: clock.now() });
    expect(byGroup(await claim())).toEqual({ b: 3 });
  });

  it('lets concurrent claims together stay within each group’s concurrency', async () => {
    const groups = Array.from({ length: 20 }, (_, g) => Array(10).fill(`g${g}`)).flat();
    const { claim } = await grouped('gconcurrent', groups, { concurrency: 3 });
    const claims = await Promise.all([claim(), claim(), claim(), claim()]);
    const counts = byGroup(claims.flat());
    for (let g = 0; g < 20; g++) expect(counts[`g${g}`] ?? 0).toBeLessThanOrEqual(3);
    expect(new Set(claims.flat().map((m) => m.id)).size).toBe(claims.flat().length);
  });
});

describe('claimFairMessages (a fair queue without per-group limits, in one statement)', () => {
  const fairClaim = async (app: { db: typeof stack.db }, queue: string, clock: ManualClock, limit: number) => {
    const leaseToken = randomUUID();
    const now = clock.now();
    const claimed = await claimFairMessages(app.db, { queue, limit, leaseToken, now, leaseUntil: new Date(now.getTime() + LEASE_MS) });
    const messages = await readClaimedMessages(app.db, { leaseToken, maxBytes: 1_000_000 });
    expect(messages).toHaveLength(claimed);
    return messages;
  };

  it('takes every group’s next message before any group’s one after, whatever the backlog of the first', async () => {
    const small = Array.from({ length: 20 }, (_, i) => `small-${i}`);
    const { app, clock } = await grouped('ffair', [...Array(200).fill('big'), ...small], { fair: true });
    expect(byGroup(await fairClaim(app, 'ffair', clock, 21))).toEqual(Object.fromEntries([['big', 1], ...small.map((g) => [g, 1])]));
    expect(byGroup(await fairClaim(app, 'ffair', clock, 5))).toEqual({ big: 5 });
  });

  it('leaves a paused group out, and takes nothing while any group of the queue has an override', async () => {
    const { app, clock } = await grouped('ffairpause', ['a', 'a', 'b', 'b', 'c'], { fair: true });
    await setGroupSettings(app.db, { queue: 'ffairpause', groupKey: 'a', paused: true, now: clock.now() });
    expect(byGroup(await fairClaim(app, 'ffairpause', clock, 1))).toEqual({ b: 1 });
    await setGroupSettings(app.db, { queue: 'ffairpause', groupKey: 'zzz', concurrency: 1, now: clock.now() });
    expect(await fairClaim(app, 'ffairpause', clock, 10)).toEqual([]);
    await setGroupSettings(app.db, { queue: 'ffairpause', groupKey: 'zzz', concurrency: null, now: clock.now() });
    expect(byGroup(await fairClaim(app, 'ffairpause', clock, 10))).toEqual({ b: 1, c: 1 });
  });

  it('lets concurrent claims take each message once', async () => {
    const groups = Array.from({ length: 30 }, (_, g) => Array(10).fill(`g${g}`)).flat();
    const { app, clock } = await grouped('ffairconcurrent', groups, { fair: true });
    const claims = await Promise.all(Array.from({ length: 4 }, () => fairClaim(app, 'ffairconcurrent', clock, 100)));
    const ids = claims.flat().map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length + (await fairClaim(app, 'ffairconcurrent', clock, 300)).length).toBe(300);
  });

  it('reads the fair index in its order (no sort of the queue’s messages)', async () => {
    const { app, clock } = await grouped('ffairplan', ['a', 'b'], { fair: true });
    const plan = await app.db.query(`EXPLAIN ${CLAIM_FAIR_MESSAGES}`, {
      queue: 'ffairplan',
      limit: 10,
      leaseToken: 't',
      now: clock.now(),
      leaseUntil: clock.now(),
    });
    const fairRead = plan.filter((row) => row.key === 'ix_queue_messages_fair');
    expect(fairRead).toHaveLength(1);
    expect(String(fairRead[0]!.Extra)).not.toContain('filesort');
  });
});

describe('claimMessages on a grouped queue', () => {
  it('claims a fair queue the two-statement way while a group has an override, holding it, and in one statement again once it is gone', async () => {
    const { app, clock } = await grouped('fairway', ['a', 'a', 'a', 'b', 'b'], { fair: true });
    await setGroupSettings(app.db, { queue: 'fairway', groupKey: 'a', concurrency: 1, now: clock.now() });
    /** What the last candidates read said of overrides, passed to the next claim as a lane does. */
    let groupsOverridden = false;
    /** One claim, with the statements it sent: the one-statement claim, the candidates read, or both. */
    const claim = async () => {
      let messages: { groupKey: string | null }[] = [];
      const calls = await statementsOf(app.db, async (db) => {
        const landed = await claimMessages(db, { queue: 'fairway', limit: 10, now: clock.now(), leaseMs: LEASE_MS, groups: { fair: true }, groupsOverridden });
        groupsOverridden = landed.groupsOverridden ?? groupsOverridden;
        messages = landed.messages;
      });
      const ways = calls.flatMap((call) =>
        call.sql === CLAIM_FAIR_MESSAGES ? ['one statement'] : call.sql === FIND_FAIR_GROUP_CANDIDATES ? ['candidates'] : [],
      );
      return { groups: byGroup(messages), ways };
    };
    // The one-statement try takes nothing while the override stands; the candidates read says why.
    expect(await claim()).toEqual({ groups: { a: 1, b: 2 }, ways: ['one statement', 'candidates'] });
    expect(groupsOverridden).toBe(true);
    await setGroupSettings(app.db, { queue: 'fairway', groupKey: 'a', concurrency: null, now: clock.now() });
    // The two-statement way once more (no try: it learns the override is gone), then one statement.
    expect(await claim()).toEqual({ groups: { a: 2 }, ways: ['candidates'] });
    expect(groupsOverridden).toBe(false);
    await seed(app, [{ queue: 'fairway', type: 't', groupKey: 'c' }]);
    expect(await claim()).toEqual({ groups: { c: 1 }, ways: ['one statement'] });
  });

  it('reports a claim held back by groups at their concurrency as throttled, not dry', async () => {
    const { app, clock } = await grouped('heldback', ['a', 'a', 'a'], { concurrency: 1 });
    const claim = () => claimMessages(app.db, { queue: 'heldback', limit: 10, now: clock.now(), leaseMs: LEASE_MS, groups: { concurrency: 1 } });
    expect((await claim()).claimed).toBe(1);
    const held = await claim();
    expect(held).toMatchObject({ claimed: 0, throttled: true });
  });

  it('reports a grouped queue with nothing due as dry (not throttled)', async () => {
    const { app, clock } = await grouped('drygroups', ['a'], { concurrency: 1 });
    const claim = () => claimMessages(app.db, { queue: 'drygroups', limit: 10, now: clock.now(), leaseMs: LEASE_MS, groups: { concurrency: 1 } });
    expect((await claim()).claimed).toBe(1);
    expect(await claim()).toMatchObject({ claimed: 0, throttled: false });
  });
});

describe('the grouped claim while a migration rebuilds the group-lease index', () => {
  it('still claims, unhinted, and within the limits', async () => {
    const { app, claim } = await grouped('gnoindex', ['a', 'a', 'b'], { concurrency: 1 });
    await withoutGroupLeaseIndex(app.db, async () => {
      expect(byGroup(await claim())).toEqual({ a: 1, b: 1 });
      expect(await claim()).toEqual([]);
    });
  });
});

describe('the grouped claim’s plan', () => {
  it('reads candidates from the fair index and each group’s in-flight rows through their own index, even on a tiny table', async () => {
    const { app, clock } = await grouped('gplan', ['a', 'b'], { concurrency: 1, ratePerSecond: 2 });
    const now = clock.now();
    const read = await app.db.query(`EXPLAIN ${FIND_FAIR_GROUP_CANDIDATES}`, { queue: 'gplan', now, limit: 10, concurrency: 1 });
    expect(read.filter((row) => row.key === 'ix_queue_messages_fair')).toHaveLength(1);
    const claim = await app.db.query(`EXPLAIN ${CLAIM_GROUP_MESSAGES}`, {
      queue: 'gplan',
      candidates: [['00000000-0000-7000-8000-000000000001', 'a']],
      groups: ['a'],
      limit: 10,
      concurrency: 1,
      ratePerSecond: 2,
      rateLimited: 1,
      leaseToken: 't',
      now,
      leaseUntil: now,
    });
    const byTable = (alias: string) => claim.filter((row) => row.table === alias).map((row) => row.key);
    expect(byTable('r')).toEqual(['ix_queue_messages_group_lease']);
    expect(byTable('m')).toEqual(['PRIMARY']);
    expect(byTable('gr')).toEqual(['PRIMARY']);
  });
});

describe('extendGroupRatePermits', () => {
  it('keeps a late claim’s permits a window from its start, safe to re-send, and counts only those it still holds', async () => {
    const { app, clock, claim } = await grouped('gextend', ['a', 'a', 'b'], { ratePerSecond: 2 });
    const now = clock.now();
    const claimed = await claim(10);
    expect(claimed).toHaveLength(3);
    const leaseToken = claimed[0]!.leaseToken;
    const startAt = new Date(now.getTime() + 700);
    expect(await extendGroupRatePermits(app.db, { queue: 'gextend', leaseToken, startAt })).toBe(3);
    expect(await extendGroupRatePermits(app.db, { queue: 'gextend', leaseToken, startAt })).toBe(3);
    const [[row]] = (await stack.sql.query("SELECT MIN(free_at) AS f FROM queue_group_permits WHERE queue = 'gextend' AND held_by IS NOT NULL")) as any;
    // A window of 2 per second is 1,050 ms (with the slack) from the start.
    expect(new Date(row.f).getTime()).toBe(startAt.getTime() + 1_050);
    expect(await extendGroupRatePermits(app.db, { queue: 'gextend', leaseToken: randomUUID(), startAt })).toBe(0);
  });
});
