/** When a lingering lane polls its dry queue and when it gives up (lib/drain/lingerSchedule.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { LingerSchedule, type LaneAtTurn } from '../../lib/drain/lingerSchedule.js';

const linger = { idleMs: 1_000, pollMinMs: 100, pollMaxMs: 400 };

/** The lane's state at its turn: by default, no promise, free to end, its own capacity, nothing unwritten. */
const lane = (state: Partial<LaneAtTurn> = {}): LaneAtTurn => ({
  promisedUntilMs: 0,
  mayEnd: true,
  capacityIsOthers: false,
  settled: true,
  ...state,
});

describe('LingerSchedule', () => {
  it('polls at once, then backs off from the shortest interval to the longest, promising while within the idle spell', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    expect(schedule.turn(0, lane())).toBe('poll-and-promise');
    expect(schedule.turn(50, lane())).toBe('wait');
    expect(schedule.msUntilPoll(50)).toBe(50);
    expect(schedule.turn(100, lane())).toBe('poll-and-promise');
    expect(schedule.msUntilPoll(100)).toBe(200);
    expect(schedule.turn(300, lane())).toBe('poll-and-promise');
    expect(schedule.msUntilPoll(300)).toBe(400);
    expect(schedule.turn(700, lane())).toBe('poll-and-promise');
    expect(schedule.msUntilPoll(700)).toBe(400); // capped at pollMaxMs
  });

  it('once idle long enough and polled past the promise, looks ahead once, then stops', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    expect(schedule.turn(0, lane({ promisedUntilMs: 500 }))).toBe('poll-and-promise');
    // Idle long enough, but the last poll began before the promise's end: poll, promising nothing.
    expect(schedule.turn(1_000, lane({ promisedUntilMs: 500 }))).toBe('poll');
    expect(schedule.turn(1_001, lane({ promisedUntilMs: 500 }))).toBe('look-ahead');
    expect(schedule.turn(1_002, lane({ promisedUntilMs: 500 }))).toBe('stop');
  });

  it('does not end while the lane holds what may bring work, and keeps polling instead', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    schedule.turn(0, lane());
    expect(schedule.turn(2_000, lane({ mayEnd: false }))).toBe('poll');
    expect(schedule.turn(2_001, lane({ mayEnd: false }))).toBe('wait');
    expect(schedule.turn(2_001, lane())).toBe('look-ahead');
  });

  it('looks ahead only once the lane holds no message whose outcome is unwritten (their leases would read as due)', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    schedule.turn(0, lane({ settled: false }));
    expect(schedule.turn(1_000, lane({ settled: false }))).toBe('settle-first');
    expect(schedule.turn(1_500, lane({ settled: false }))).toBe('settle-first');
    expect(schedule.turn(1_600, lane())).toBe('look-ahead');
    expect(schedule.turn(1_601, lane({ settled: false }))).toBe('stop');
  });

  it('neither promises nor looks ahead when the queue’s capacity is other runs’', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    expect(schedule.turn(0, lane({ capacityIsOthers: true }))).toBe('poll');
    expect(schedule.turn(1_000, lane({ capacityIsOthers: true }))).toBe('stop');
  });

  it('starts a new spell when work is found: idle time and backoff start over, and it may look ahead again', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    schedule.turn(0, lane());
    expect(schedule.turn(1_000, lane())).toBe('look-ahead');
    schedule.startIdle(1_500);
    expect(schedule.turn(1_500, lane())).toBe('poll-and-promise');
    expect(schedule.msUntilPoll(1_500)).toBe(100);
    expect(schedule.turn(2_500, lane())).toBe('look-ahead');
  });

  it('after a look-ahead found a message due later, waits for that moment and is idle from it', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    schedule.turn(0, lane());
    expect(schedule.turn(1_000, lane())).toBe('look-ahead');
    schedule.idleFrom(5_000);
    expect(schedule.turn(1_001, lane())).toBe('wait');
    expect(schedule.msUntilPoll(1_001)).toBe(3_999);
    expect(schedule.turn(5_000, lane())).toBe('poll-and-promise');
    expect(schedule.turn(6_000, lane())).toBe('look-ahead');
  });

  it('polls at once when asked to, without waiting out the interval', () => {
    const schedule = new LingerSchedule(linger);
    schedule.startIdle(0);
    schedule.turn(0, lane());
    expect(schedule.turn(10, lane())).toBe('wait');
    schedule.pollNow();
    expect(schedule.turn(10, lane())).toBe('poll-and-promise');
  });

  it("backs off further while the queue's capacity is other runs' (heldBackPollMaxMs)", () => {
    const schedule = new LingerSchedule({ idleMs: 10_000, pollMinMs: 50, pollMaxMs: 100, heldBackPollMaxMs: 400 });
    schedule.startIdle(0);
    const intervals = (capacityIsOthers: boolean, from: number, count: number) => {
      const seen: number[] = [];
      let now = from;
      for (let i = 0; i < count; i++) {
        schedule.turn(now, lane({ capacityIsOthers: capacityIsOthers }));
        seen.push(schedule.msUntilPoll(now));
        now += schedule.msUntilPoll(now);
      }
      return { seen, now };
    };
    const fast = intervals(false, 0, 4);
    expect(fast.seen).toEqual([50, 100, 100, 100]);
    schedule.startIdle(fast.now);
    expect(intervals(true, fast.now, 5).seen).toEqual([50, 100, 200, 400, 400]);
  });
});
