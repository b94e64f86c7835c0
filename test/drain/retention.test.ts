import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { drain } from '../../lib/drain/drain.js';
import { deleteExpiredMessages } from '../../lib/drain/retention.js';
import { PermanentError } from '../../lib/errors.js';
import { resolveQueues } from '../../lib/queues.js';
import { useStack } from '../support/stack.js';
import { appOn, jobType, plenty, seed } from './helpers.js';

const stack = useStack();

const ok = jobType('ok', async () => {});
const bad = jobType('bad', async () => {
  throw new PermanentError('no');
});

async function countByQueue(queue: string): Promise<Record<string, number>> {
  const [rows] = await stack.sql.query('SELECT status, COUNT(*) AS n FROM queue_messages WHERE queue = ? GROUP BY status', [queue]);
  return Object.fromEntries((rows as { status: string; n: number }[]).map((row) => [row.status, Number(row.n)]));
}

describe('retention', () => {
  it('keeps finished messages for retentionSeconds, then deletes them in bounded batches; dead letters stay', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00.000Z');
    const app = appOn(stack, { queues: [{ name: 'keep', retentionSeconds: 3_600 }], jobTypes: [ok, bad], clock });
    await seed(app, [...Array.from({ length: 25 }, () => ({ queue: 'keep', type: 'ok' })), { queue: 'keep', type: 'bad' }]);
    await drain(app, { remainingTimeMs: plenty });
    expect(await countByQueue('keep')).toEqual({ done: 25, dead: 1 });

    const tuning = { retentionBatchSize: 10, retentionMaxCalls: 2 };
    clock.advance(3_600_000);
    expect((await drain(app, { remainingTimeMs: plenty, tuning })).deleted).toBe(0); // not older than an hour yet
    clock.advance(1);
    const first = await drain(app, { remainingTimeMs: plenty, tuning });
    expect(first.deleted).toBe(20); // two calls of ten
    expect(await countByQueue('keep')).toEqual({ done: 5, dead: 1 });
    expect((await drain(app, { remainingTimeMs: plenty, tuning })).deleted).toBe(5);
    expect(await countByQueue('keep')).toEqual({ dead: 1 });
  });

  it('deletes dead letters too when deadRetentionSeconds is set', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00.000Z');
    const app = appOn(stack, {
      queues: [{ name: 'dead-too', retentionSeconds: 60, deadRetentionSeconds: 120 }],
      jobTypes: [ok, bad],
      clock,
    });
    await seed(app, [
      { queue: 'dead-too', type: 'ok' },
      { queue: 'dead-too', type: 'bad' },
    ]);
    await drain(app, { remainingTimeMs: plenty });
    clock.advance(61_000);
    expect((await drain(app, { remainingTimeMs: plenty })).deleted).toBe(1);
    clock.advance(60_000);
    expect((await drain(app, { remainingTimeMs: plenty })).deleted).toBe(1);
    expect(await countByQueue('dead-too')).toEqual({});
  });

  it('deletes dead letters on their own cutoff when it is shorter than the done one', async () => {
    const clock = new ManualClock('2026-01-01T00:00:00.000Z');
    const app = appOn(stack, {
      queues: [{ name: 'dead-first', retentionSeconds: 600, deadRetentionSeconds: 60 }],
      jobTypes: [ok, bad],
      clock,
    });
    await seed(app, [
      { queue: 'dead-first', type: 'ok' },
      { queue: 'dead-first', type: 'bad' },
    ]);
    await drain(app, { remainingTimeMs: plenty });
    clock.advance(61_000);
    expect((await drain(app, { remainingTimeMs: plenty })).deleted).toBe(1);
    expect(await countByQueue('dead-first')).toEqual({ done: 1 });
  });

  it('makes no call when the run has no time left', async () => {
    const db = stack.newDb();
    const [queue] = resolveQueues([{ name: 'no-time' }], {}).values();
    const deleted = await deleteExpiredMessages(db, queue!, { now: new Date(), batchSize: 10, maxCalls: 3, hasTime: () => false });
    expect(deleted).toBe(0);
    expect(db.stats.calls).toBe(0);
  });
});
