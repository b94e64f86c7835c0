/** Operating one group of a queue with per-group limits: list, set, pause, resume, and the refusals. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/clock.js';
import { enqueue } from '../lib/enqueue.js';
import { getQueueStats, listQueueStats } from '../lib/operations.js';
import { TOP_GROUPS } from '../lib/sql/groupSettings.js';
import { recordingDb } from './support/statements.js';
import { listGroups, pauseGroup, resumeGroup, setGroupLimits } from '../lib/groups.js';
import { appOn, jobType, seed } from './drain/helpers.js';
import { useStack } from './support/stack.js';

const stack = useStack();

/** An app whose grouped queue is `tenants` (a name per test: the tests share a database). */
function groupedApp(tenants = 'tenants') {
  const clock = new ManualClock('2026-01-01T00:00:00.000Z');
  return appOn(stack, {
    queues: [{ name: tenants, groups: { concurrency: 2, fair: true } }, { name: 'plain' }],
    jobTypes: [jobType('t', async () => {})],
    clock,
  });
}

describe('groups', () => {
  it('lists the groups with the most backlog, and those set', async () => {
    const app = groupedApp();
    await seed(app, [
      ...Array.from({ length: 5 }, () => ({ queue: 'tenants', type: 't', groupKey: 'big' })),
      ...Array.from({ length: 2 }, () => ({ queue: 'tenants', type: 't', groupKey: 'small' })),
    ]);
    await pauseGroup(app, 'tenants', 'quiet');
    const list = await listGroups(app, 'tenants');
    expect(list.declared).toEqual({ concurrency: 2, ratePerSecond: null, fair: true });
    expect(list.top.map((g) => [g.groupKey, g.unfinished, g.state])).toEqual([
      ['big', 5, 'idle'],
      ['small', 2, 'idle'],
    ]);
    expect(list.set).toMatchObject([{ groupKey: 'quiet', paused: true, state: 'paused', unfinished: 0 }]);
    expect((await listGroups(app, 'tenants', { limit: 1 })).top.map((g) => g.groupKey)).toEqual(['big']);
  });

  it('refuses a list limit outside 1–100, naming it, as the API does (never a silent clamp)', async () => {
    const app = groupedApp('tenants-limit');
    for (const limit of [0, 101, 2.5]) {
      await expect(listGroups(app, 'tenants-limit', { limit })).rejects.toMatchObject({ issues: [{ field: 'limit' }] });
    }
  });

  it('sets a group’s own limits, and null gives it the queue’s back', async () => {
    const app = groupedApp('tenants-set');
    expect(await setGroupLimits(app, 'tenants-set', 'acme', { concurrency: 5, ratePerSecond: 2.5 })).toMatchObject({
      groupKey: 'acme',
      concurrency: 5,
      ratePerSecond: 2.5,
      overridden: { concurrency: true, ratePerSecond: true },
    });
    expect(await setGroupLimits(app, 'tenants-set', 'acme', { concurrency: null })).toMatchObject({
      concurrency: 2,
      ratePerSecond: 2.5,
      overridden: { concurrency: false, ratePerSecond: true },
    });
    // Pause keeps the limits; resume keeps them too.
    expect(await pauseGroup(app, 'tenants-set', 'acme')).toMatchObject({ paused: true, ratePerSecond: 2.5 });
    expect(await resumeGroup(app, 'tenants-set', 'acme')).toMatchObject({ paused: false, ratePerSecond: 2.5, state: 'idle' });
  });

  it('refuses what cannot be, naming the field and the rule', async () => {
    const app = groupedApp();
    await expect(setGroupLimits(app, 'nope', 'a', { concurrency: 1 })).rejects.toMatchObject({ code: 'unknown_queue', field: 'queue' });
    await expect(pauseGroup(app, 'plain', 'a')).rejects.toMatchObject({ field: 'queue', rule: 'not_grouped' });
    await expect(setGroupLimits(app, 'tenants', 'a', { concurrency: 0 })).rejects.toMatchObject({
      field: 'concurrency',
      message: expect.stringContaining('at least 1'),
    });
    await expect(setGroupLimits(app, 'tenants', 'a', { ratePerSecond: -1 })).rejects.toMatchObject({
      field: 'ratePerSecond',
      message: expect.stringContaining('positive'),
    });
    await expect(setGroupLimits(app, 'tenants', 'a', {})).rejects.toMatchObject({ rule: 'required' });
    await expect(pauseGroup(app, 'tenants', '')).rejects.toMatchObject({ field: 'groupKey', message: expect.stringContaining('must not be empty') });
  });
});

describe('queue stats of a grouped queue', () => {
  it('show the groups with the most backlog', async () => {
    const app = groupedApp('tenants-stats');
    await seed(app, [
      ...Array.from({ length: 3 }, () => ({ queue: 'tenants-stats', type: 't', groupKey: 'x' })),
      { queue: 'tenants-stats', type: 't', groupKey: 'y' },
    ]);
    const stats = await getQueueStats(app, 'tenants-stats');
    expect(stats.topGroups).toEqual([
      { groupKey: 'x', unfinished: 3, running: 0, paused: false },
      { groupKey: 'y', unfinished: 1, running: 0, paused: false },
    ]);
    expect((await getQueueStats(app, 'plain')).topGroups).toBeUndefined();
    // Left out for a caller that lists the groups itself (the dashboard): one read per grouped queue fewer.
    const db = recordingDb(app.db);
    const without = await listQueueStats({ ...app, db }, { topGroups: false });
    expect(without.find((s) => s.queue === 'tenants-stats')!.topGroups).toBeUndefined();
    expect(db.calls.filter((call) => call.sql === TOP_GROUPS)).toEqual([]);
  });
});

describe('enqueue into a grouped queue', () => {
  it('needs a groupKey, and names the field and the rule without one', async () => {
    const app = groupedApp('tenants-enqueue');
    await expect(enqueue(app, 'tenants-enqueue', [{ type: 't', payload: {} }])).rejects.toMatchObject({
      issues: [{ field: 'messages[0].groupKey', rule: 'required', message: expect.stringContaining('limits its messages per group') }],
    });
    const [stored] = await enqueue(app, 'tenants-enqueue', [{ type: 't', payload: {}, groupKey: 'acme' }]);
    expect(stored).toMatchObject({ id: expect.any(String) });
    await expect(enqueue(app, 'plain', [{ type: 't', payload: {}, groupKey: 'acme' }])).rejects.toMatchObject({
      issues: [{ field: 'messages[0].groupKey', rule: 'not_fifo' }],
    });
  });
});
