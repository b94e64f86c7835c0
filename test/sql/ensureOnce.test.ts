/**
 * ensureOnce: runs an idempotent `ensure` once per Db and key, and again after `recheckMs`. Time is
 * a parameter, so every edge is tested exactly; one test runs it over a real ensure (FIFO group
 * slots) to show a table reset is repaired on the recheck, not before.
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../lib/db/types.js';
import { ensureOnce } from '../../lib/sql/ensureOnce.js';
import { ensureGroupSlots, GROUP_SLOTS } from '../../lib/sql/groupSlots.js';
import { at } from '../support/statements.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

/** A fresh Db (ensureOnce keys on the object) and an ensure that counts its runs. */
function counted() {
  let runs = 0;
  return { db: stack.newDb(), ensure: async () => void runs++, runs: () => runs };
}

describe('ensureOnce', () => {
  it('runs on the first call, not again before recheckMs, and again from recheckMs on', async () => {
    const { db, ensure, runs } = counted();
    const once = (ms: number) => ensureOnce(db, { key: 'k', now: at(ms), recheckMs: 1_000 }, ensure);
    await once(0);
    await once(0);
    await once(999);
    expect(runs()).toBe(1);
    await once(1_000);
    expect(runs()).toBe(2);
    // Rechecked at 1 000: the next is due at 2 000.
    await once(1_999);
    expect(runs()).toBe(2);
    await once(2_000);
    expect(runs()).toBe(3);
  });

  it('keeps keys and Dbs apart: each runs its own first time', async () => {
    const { db, ensure, runs } = counted();
    const other = stack.newDb();
    await ensureOnce(db, { key: 'a', now: at(0), recheckMs: 60_000 }, ensure);
    await ensureOnce(db, { key: 'b', now: at(0), recheckMs: 60_000 }, ensure);
    await ensureOnce(other, { key: 'a', now: at(0), recheckMs: 60_000 }, ensure);
    expect(runs()).toBe(3);
    await ensureOnce(db, { key: 'a', now: at(1), recheckMs: 60_000 }, ensure);
    await ensureOnce(other, { key: 'b', now: at(1), recheckMs: 60_000 }, ensure);
    expect(runs()).toBe(4);
  });

  it('always runs with recheckMs 0', async () => {
    const { db, ensure, runs } = counted();
    for (let i = 0; i < 3; i++) await ensureOnce(db, { key: 'k', now: at(0), recheckMs: 0 }, ensure);
    expect(runs()).toBe(3);
  });

  it('records nothing when ensure fails: the error reaches the caller and the next call runs it again', async () => {
    const { db, ensure, runs } = counted();
    const failure = new Error('ensure failed');
    await expect(ensureOnce(db, { key: 'k', now: at(0), recheckMs: 60_000 }, () => Promise.reject(failure))).rejects.toBe(failure);
    await ensureOnce(db, { key: 'k', now: at(1), recheckMs: 60_000 }, ensure);
    expect(runs()).toBe(1);
  });

  it('is no lock: calls that overlap before the first ensure ends each run it (ensure must be idempotent)', async () => {
    const db = stack.newDb();
    let started = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const ensure = async () => {
      started++;
      await gate;
    };
    const first = ensureOnce(db, { key: 'k', now: at(0), recheckMs: 60_000 }, ensure);
    const second = ensureOnce(db, { key: 'k', now: at(0), recheckMs: 60_000 }, ensure);
    release();
    await Promise.all([first, second]);
    expect(started).toBe(2);
    // Both recorded the check: the next call within recheckMs runs nothing.
    await ensureOnce(db, { key: 'k', now: at(1), recheckMs: 60_000 }, ensure);
    expect(started).toBe(2);
  });

  it('skips while the clock is behind the last check (a step back) until recheckMs past it', async () => {
    const { db, ensure, runs } = counted();
    await ensureOnce(db, { key: 'k', now: at(10_000), recheckMs: 1_000 }, ensure);
    await ensureOnce(db, { key: 'k', now: at(0), recheckMs: 1_000 }, ensure);
    expect(runs()).toBe(1);
  });

  it('over a real ensure: rows deleted meanwhile come back at the recheck, not before', async () => {
    const db: Db = stack.newDb();
    const slots = async () => {
      const [[row]] = (await stack.sql.query("SELECT COUNT(*) AS n FROM queue_group_slots WHERE queue = 'eo'")) as [{ n: number }[], unknown];
      return Number(row!.n);
    };
    const once = (ms: number) => ensureOnce(db, { key: 'slots eo', now: at(ms), recheckMs: 5 * 60_000 }, () => ensureGroupSlots(db, { queue: 'eo' }));
    await once(0);
    expect(await slots()).toBe(GROUP_SLOTS);
    const calls = db.stats.calls;
    await stack.sql.query("DELETE FROM queue_group_slots WHERE queue = 'eo'");
    await once(60_000);
    expect([await slots(), db.stats.calls - calls]).toEqual([0, 0]);
    await once(5 * 60_000);
    expect([await slots(), db.stats.calls - calls]).toEqual([GROUP_SLOTS, 1]);
  });
});
