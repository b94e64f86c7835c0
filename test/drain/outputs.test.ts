/** Results and progress through a real drain: stored with the message, shown by its status, a bad result only logged. */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.js';
import { drain } from '../../lib/drain/drain.js';
import type { DrainLog } from '../../lib/drain/types.js';
import { defineJobType } from '../../lib/jobs/types.js';
import { getMessageStatus } from '../../lib/messages.js';
import { createApp } from '../../lib/app.js';
import { defineConfig } from '../../lib/config.js';
import { STORE_HELD_PROGRESS } from '../../lib/sql/storeHeldProgress.js';
import { STORE_HELD_RESULTS } from '../../lib/sql/storeHeldResults.js';
import { heldIds, recordingDb } from '../support/statements.js';
import { useStack } from '../support/stack.js';
import { anyPayload, appOn, plenty, seed } from './helpers.js';

const stack = useStack();

function recordingLog() {
  const warnings: { message: string; attributes: Record<string, unknown> }[] = [];
  const log: DrainLog = { warn: (message, attributes) => warnings.push({ message, attributes }), error: () => {} };
  return { log, warnings };
}

describe('drain: results and progress', () => {
  it("stores what handle returns and its last progress, shown by the message's status; nothing for a handler that returns nothing", async () => {
    const app = appOn(stack, {
      queues: [{ name: 'outputs' }],
      jobTypes: [
        defineJobType({
          type: 'sms.send',
          payload: anyPayload,
          handle: async (_payload, context) => {
            context.progress(0.5);
            context.progress({ step: 'sent', parts: 2 });
            return { sid: `SM-${context.id.slice(-4)}`, segments: 2 };
          },
        }),
        defineJobType({ type: 'noop', payload: anyPayload, handle: async () => {} }),
      ],
      clock: systemClock,
    });
    const [sms, noop] = await seed(app, [
      { queue: 'outputs', type: 'sms.send' },
      { queue: 'outputs', type: 'noop' },
    ]);
    const summary = await drain(app, { queue: 'outputs', remainingTimeMs: plenty });
    expect(summary.done).toBe(2);
    const view = await getMessageStatus(app, sms!);
    expect(view).toMatchObject({ status: 'done', result: { sid: `SM-${sms!.slice(-4)}`, segments: 2 } });
    // The first value went at once; the last one, pending, when the attempt ended (fire and forget: polled for).
    await expect.poll(async () => (await getMessageStatus(app, sms!)).progress).toEqual({ step: 'sent', parts: 2 });
    expect((await getMessageStatus(app, sms!)).progressAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const plain = await getMessageStatus(app, noop!);
    expect(plain.status).toBe('done');
    expect(plain).not.toHaveProperty('result');
    expect(plain).not.toHaveProperty('progress');
  });

  it('marks a message whose result is too large or not JSON done without it, and warns naming the message and the rule', async () => {
    const { log, warnings } = recordingLog();
    const app = appOn(stack, {
      queues: [{ name: 'outputs-bad' }],
      jobTypes: [
        defineJobType({ type: 'big', payload: anyPayload, handle: async () => 'x'.repeat(50_000) }),
        defineJobType({ type: 'fn', payload: anyPayload, handle: async () => () => 1 }),
      ],
      clock: systemClock,
    });
    const [big, fn] = await seed(app, [
      { queue: 'outputs-bad', type: 'big' },
      { queue: 'outputs-bad', type: 'fn' },
    ]);
    const summary = await drain(app, { queue: 'outputs-bad', remainingTimeMs: plenty, log });
    expect(summary.done).toBe(2);
    for (const id of [big!, fn!]) {
      const view = await getMessageStatus(app, id);
      expect(view.status).toBe('done');
      expect(view).not.toHaveProperty('result');
    }
    const notStored = warnings.filter((w) => w.message === 'handler result not stored; the message is done');
    expect(notStored.map((w) => [w.attributes.messageId, w.attributes.rule])).toEqual(
      expect.arrayContaining([
        [big, 'the result must be at most 49152 bytes of JSON text, got 50002'],
        [fn, 'the result must be JSON, not a function'],
      ]),
    );
  });

  it('writes a burst of progress as two writes, the first value and the last, without holding the outcome back', async () => {
    const db = recordingDb(stack.newDb());
    const app = createApp({
      db,
      env: {},
      clock: systemClock,
      config: defineConfig({
        queues: [{ name: 'outputs-burst' }],
        jobTypes: [
          defineJobType({
            type: 'burst',
            payload: anyPayload,
            handle: async (_payload, context) => {
              for (let i = 1; i <= 100; i++) context.progress({ done: i, of: 100 });
            },
          }),
        ],
      }),
    });
    const [id] = await seed(app, [{ queue: 'outputs-burst', type: 'burst' }]);
    expect((await drain(app, { queue: 'outputs-burst', remainingTimeMs: plenty })).done).toBe(1);
    await expect.poll(async () => (await getMessageStatus(app, id!)).progress).toEqual({ done: 100, of: 100 });
    const writes = db.calls.filter((call) => call.sql === STORE_HELD_PROGRESS).map((call) => call.params.progress);
    expect(writes).toEqual(['{"done":1,"of":100}', '{"done":100,"of":100}']);
  });

  it('shows only the result of the run that completed a message: a run that lost its lease leaves its result hidden, then replaced or not', async () => {
    // Between the first run's results write and its mark done, the leases are taken over (as if
    // they had run out and another drain had claimed the messages): the results land, the mark not.
    const db = recordingDb(stack.newDb());
    const execute = db.execute;
    let takeOver = true;
    db.execute = async (sql, params, options) => {
      const answer = await execute(sql, params, options);
      if (sql === STORE_HELD_RESULTS && takeOver) {
        takeOver = false;
        const ids = heldIds(params!);
        await stack.sql.query("UPDATE queue_messages SET lease_token = 'another-drain', available_at = ? WHERE id IN (?)", [new Date(0), ids]);
      }
      return answer;
    };
    const app = createApp({
      db,
      env: {},
      clock: systemClock,
      config: defineConfig({
        queues: [{ name: 'outputs-lost', maxAttempts: 3 }],
        jobTypes: [
          defineJobType({
            type: 'lost',
            payload: anyPayload,
            handle: async (payload: unknown, context) => (context.attempt === 1 ? { run: 1 } : (payload as { second: unknown }).second),
          }),
        ],
      }),
    });
    const [replaced, hidden] = await seed(app, [
      { queue: 'outputs-lost', type: 'lost', payload: { second: { run: 2 } } },
      { queue: 'outputs-lost', type: 'lost', payload: { second: null } },
    ]);
    const first = await drain(app, { queue: 'outputs-lost', remainingTimeMs: plenty });
    expect(first).toMatchObject({ done: 0, lostLeases: 2 });
    const [stored] = (await stack.sql.query('SELECT result FROM queue_message_outputs WHERE message_id IN (?, ?)', [replaced, hidden])) as any;
    expect(stored.map((row: { result: string }) => row.result)).toEqual(['{"run":1}', '{"run":1}']);
    for (const id of [replaced!, hidden!]) {
      const view = await getMessageStatus(app, id);
      expect([view.status, view.result]).toEqual(['running', undefined]);
    }
    // The taken-over leases ran out: a drain claims both again and completes them.
    const second = await drain(app, { queue: 'outputs-lost', remainingTimeMs: plenty });
    expect(second).toMatchObject({ done: 2, lostLeases: 0 });
    expect(await getMessageStatus(app, replaced!)).toMatchObject({ status: 'done', attempts: 2, result: { run: 2 } });
    const completedWithout = await getMessageStatus(app, hidden!);
    expect(completedWithout).toMatchObject({ status: 'done', attempts: 2 });
    expect(completedWithout).not.toHaveProperty('result');
  });
});
