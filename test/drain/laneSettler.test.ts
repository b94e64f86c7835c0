/** A lane's settler wiring (lib/drain/laneSettler.ts): its options and what they log, pure, no database. */
import { describe, expect, it } from 'vitest';
import { laneSettlerOptions, SETTLE_GIVE_UP_BEFORE_LEASE_END_MS } from '../../lib/drain/laneSettler.js';
import { DEFAULT_DRAIN_TUNING } from '../../lib/drain/types.js';
import { queueDefaults } from '../../lib/queues.js';

function wired(overrides: { fifo?: boolean; remainingMs?: number } = {}) {
  const logged: { level: 'warn' | 'error'; message: string; attributes: Record<string, unknown> }[] = [];
  const errors: string[] = [];
  let writes = 0;
  const options = laneSettlerOptions(
    {
      queue: { ...queueDefaults({}), name: 'q', fifo: overrides.fifo ?? false },
      tuning: { ...DEFAULT_DRAIN_TUNING, settleFlushSize: 7, settleLingerMs: 30 },
      remainingTimeMs: () => overrides.remainingMs ?? 60_000,
      random: () => 0.5,
      log: {
        warn: (message, attributes) => logged.push({ level: 'warn', message, attributes }),
        error: (message, attributes) => logged.push({ level: 'error', message, attributes }),
      },
    },
    { onWrite: () => writes++, onGiveUp: (error) => errors.push(error) },
  );
  return { options, logged, errors, writes: () => writes };
}

describe('laneSettlerOptions', () => {
  it('batches by the tuning, and a FIFO queue writes each outcome at once (its group’s next waits for it)', () => {
    const plain = wired().options;
    expect(plain).toMatchObject({ flushSize: 7, lingerMs: 30, giveUpBeforeLeaseEndMs: SETTLE_GIVE_UP_BEFORE_LEASE_END_MS });
    expect(plain.random?.()).toBe(0.5);
    expect(wired({ fifo: true }).options.lingerMs).toBe(0);
  });

  it('writes while more than the give-up time is left in the run', () => {
    expect(wired({ remainingMs: SETTLE_GIVE_UP_BEFORE_LEASE_END_MS + 1 }).options.hasTime()).toBe(true);
    expect(wired({ remainingMs: SETTLE_GIVE_UP_BEFORE_LEASE_END_MS }).options.hasTime()).toBe(false);
  });

  it('tells the lane of every write', () => {
    const { options, writes } = wired();
    options.onWrite?.();
    options.onWrite?.();
    expect(writes()).toBe(2);
  });

  it('logs only the first failed write, without the error’s SQL', () => {
    const { options, logged } = wired();
    options.onError?.('ack', 3, new Error('boom'));
    options.onError?.('ack', 3, new Error('boom again'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'warn', attributes: { queue: 'q', write: 'ack', rows: 3 } });
    expect(typeof logged[0]!.attributes.error).toBe('string');
  });

  it('makes writes given up an error of the run, and logs them', () => {
    const { options, logged, errors } = wired();
    options.onGiveUp?.('reschedule', 4);
    expect(errors).toEqual(['reschedule of 4 messages given up after failed writes; they come back when their lease ends']);
    expect(logged).toEqual([
      {
        level: 'error',
        message: 'settle writes given up; the messages come back when their lease ends',
        attributes: { queue: 'q', write: 'reschedule', rows: 4 },
      },
    ]);
  });

  it('warns of leases lost before settling', () => {
    const { options, logged } = wired();
    options.onLostLeases?.('ack', 2);
    expect(logged).toEqual([
      { level: 'warn', message: 'lease lost before settling: another drainer may have run these messages', attributes: { queue: 'q', write: 'ack', lost: 2 } },
    ]);
  });
});
