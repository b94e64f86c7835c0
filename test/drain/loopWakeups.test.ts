/** What wakes the lane's loop (lib/drain/loopWakeups.ts): a fake sleep, no database. */
import { describe, expect, it } from 'vitest';
import { LoopWakeups } from '../../lib/drain/loopWakeups.js';

/** A sleep whose timers end when the test says so. */
function fakeSleep() {
  const timers: { ms: number; end: () => void }[] = [];
  const sleep = (ms: number) => new Promise<void>((resolve) => timers.push({ ms, end: resolve }));
  return { sleep, timers };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('LoopWakeups', () => {
  it('remembers a change notified during the turn, so the loop goes round again without sleeping', () => {
    const wakeups = new LoopWakeups<'poll'>(fakeSleep().sleep);
    wakeups.beginTurn();
    expect(wakeups.changed).toBe(false);
    wakeups.notify();
    expect(wakeups.changed).toBe(true);
    wakeups.beginTurn();
    expect(wakeups.changed).toBe(false);
  });

  it('wakes a sleeping loop at the next change', async () => {
    const wakeups = new LoopWakeups<'poll'>(fakeSleep().sleep);
    wakeups.beginTurn();
    let woken = false;
    const sleeping = wakeups.nextChange().then(() => (woken = true));
    await settle();
    expect(woken).toBe(false);
    wakeups.notify();
    await sleeping;
    expect(woken).toBe(true);
  });

  it('arms at most one timer per reason, and a timer’s end is a change', async () => {
    const { sleep, timers } = fakeSleep();
    const wakeups = new LoopWakeups<'poll' | 'token'>(sleep);
    wakeups.after('poll', 100);
    wakeups.after('poll', 50);
    wakeups.after('token', 10);
    expect(timers.map((t) => t.ms)).toEqual([100, 10]);

    wakeups.beginTurn();
    const sleeping = wakeups.nextChange();
    timers[1]!.end();
    await sleeping;
    expect(wakeups.changed).toBe(true);

    // Once the token's timer has ended, another may be armed for it; the poll's still stands.
    wakeups.after('token', 20);
    wakeups.after('poll', 30);
    expect(timers.map((t) => t.ms)).toEqual([100, 10, 20]);
  });
});
