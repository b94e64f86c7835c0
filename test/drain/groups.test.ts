/** FIFO queues drained: order and one-at-a-time within a group, parallel across groups. */
import { expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.js';
import { drain } from '../../lib/drain/drain.js';
import { enqueue, enqueueInTransaction } from '../../lib/enqueue.js';
import { useStack } from '../support/stack.js';
import { appOn, jobType, plenty, seed, statusCounts } from './helpers.js';

const stack = useStack();

const GROUPS = 20;
const PER_GROUP = 15;

it(`3 drain runs at once over ${GROUPS} groups: each group in enqueue order, one at a time, a failure holding its group`, async () => {
  const started: { group: string; n: number; attempt: number }[] = [];
  const running = new Map<string, number>();
  const overlaps: string[] = [];
  let groupsAtOnce = 0;
  const handler = jobType('step', async (payload, context) => {
    const { group, n } = payload as { group: string; n: number };
    started.push({ group, n, attempt: context.attempt });
    if ((running.get(group) ?? 0) > 0) overlaps.push(`${group}#${n}`);
    running.set(group, (running.get(group) ?? 0) + 1);
    groupsAtOnce = Math.max(groupsAtOnce, [...running.values()].filter((count) => count > 0).length);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1 + (n % 3)));
      // Every fifth message fails its first attempt: its group waits for its retry.
      if (n % 5 === 2 && context.attempt === 1) throw new Error('first attempt fails');
    } finally {
      running.set(group, running.get(group)! - 1);
    }
  });
  const queue = { name: 'fifo', fifo: true, backoff: { baseMs: 20, maxMs: 20 } };
  const apps = [0, 1, 2].map(() => appOn(stack, { queues: [queue], jobTypes: [handler], clock: systemClock }));
  // Enqueued interleaved across groups, as they would arrive.
  const messages = Array.from({ length: GROUPS * PER_GROUP }, (_, i) => {
    const group = `g${i % GROUPS}`;
    return { queue: 'fifo', type: 'step', groupKey: group, payload: { group, n: Math.floor(i / GROUPS) } };
  });
  await seed(apps[0]!, messages);

  // Lingering, as a woken run does: on a loaded machine every group's head can be waiting out its
  // 20 ms retry at one moment while no run holds anything, and a run that does not linger stops there.
  const summaries = await Promise.all(apps.map((app) => drain(app, { queue: 'fifo', remainingTimeMs: plenty, linger: { idleMs: 1_000, woken: true } })));
  expect(await statusCounts(stack)).toEqual({ done: GROUPS * PER_GROUP });
  expect(overlaps).toEqual([]);
  for (let g = 0; g < GROUPS; g++) {
    const order = started.filter((s) => s.group === `g${g}`).map((s) => s.n);
    // Each message once, plus its retry right after its first attempt; never ahead of its turn.
    const expected = Array.from({ length: PER_GROUP }, (_, n) => (n % 5 === 2 ? [n, n] : [n])).flat();
    expect(order).toEqual(expected);
  }
  // Groups ran side by side, and the runs kept claiming as heads freed up (not one round per run).
  expect(groupsAtOnce).toBeGreaterThan(GROUPS / 2);
  // Every message run once, and the failing ones once more; a follower claimed with a head that
  // failed went back unrun (released), to run after the head's retry.
  const reruns = GROUPS * Math.ceil(PER_GROUP / 5);
  expect(started).toHaveLength(GROUPS * PER_GROUP + reruns);
  const totals = summaries.reduce((sum, s) => ({ claimed: sum.claimed + s.claimed, released: sum.released + s.released }), { claimed: 0, released: 0 });
  expect(totals.claimed - totals.released).toBe(GROUPS * PER_GROUP + reruns);
});

it('refuses a groupKey on a queue that is not FIFO, and a message without one on a FIFO queue', async () => {
  const app = appOn(stack, { queues: [{ name: 'plain' }, { name: 'ordered', fifo: true }], jobTypes: [jobType('t', async () => {})], clock: systemClock });
  await expect(enqueue(app, 'plain', [{ type: 't', payload: {}, groupKey: 'a' }])).rejects.toMatchObject({
    issues: [{ field: 'messages[0].groupKey', rule: 'not_fifo' }],
  });
  await expect(enqueue(app, 'ordered', [{ type: 't', payload: {} }])).rejects.toMatchObject({
    issues: [{ field: 'messages[0].groupKey', rule: 'required' }],
  });
  const [stored] = await enqueue(app, 'ordered', [{ type: 't', payload: {}, groupKey: 'a' }]);
  expect(stored!.duplicate).toBe(false);
});

it('an open producer transaction holds its own group only: other groups start at once, and its later messages wait behind it', async () => {
  const started: { group: string; n: number; atMs: number }[] = [];
  const handler = jobType('step', async (payload) => {
    const { group, n } = payload as { group: string; n: number };
    started.push({ group, n, atMs: performance.now() });
  });
  const app = appOn(stack, { queues: [{ name: 'outbox', fifo: true }], jobTypes: [handler], clock: systemClock });
  const step = (group: string, n: number) => ({ type: 'step', groupKey: group, payload: { group, n } });
  await stack.db.transaction(async (tx) => {
    await enqueueInTransaction(app, tx.transactionId!, 'outbox', [step('g', 1)]);
    await enqueue(app, 'outbox', [step('g', 2), step('h', 1), step('h', 2)]);
    const drainStartedMs = performance.now();
    await drain(app, { queue: 'outbox', remainingTimeMs: plenty });
    // Every group but g ran, in order and without waiting for the transaction; g waited.
    expect(started.map(({ group, n }) => `${group}${n}`)).toEqual(['h1', 'h2']);
    expect(started[0]!.atMs - drainStartedMs).toBeLessThan(1_000);
  });
  await drain(app, { queue: 'outbox', remainingTimeMs: plenty });
  expect(started.map(({ group, n }) => `${group}${n}`)).toEqual(['h1', 'h2', 'g1', 'g2']);
});
