/** One batch handler call (lib/drain/batchDispatch.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { dispatchBatch, outcomesOf } from '../../lib/drain/batchDispatch.js';
import type { DispatchMessage } from '../../lib/drain/dispatch.js';
import { PermanentError, RetryableError } from '../../lib/errors.js';
import { defineJobType, type BatchContext, type BatchJobType, type BatchMessage } from '../../lib/jobs/types.js';

const schema = z.object({ to: z.string().regex(/^\+\d+$/) });

function message(n: number, payload: unknown = { to: `+1555000${n}` }): DispatchMessage {
  return { id: `m${n}`, queue: 'sms', type: 'bulk', payload, attempts: 1, maxAttempts: 3 };
}

function batchType(handleBatch: BatchJobType<z.output<typeof schema>>['handleBatch'], timeoutMs?: number): BatchJobType {
  return defineJobType({
    type: 'bulk',
    payload: schema,
    batch: { maxSize: 10 },
    handleBatch,
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  });
}

const options = { timeoutMs: 1_000 };

describe('dispatchBatch', () => {
  it('hands the handler the parsed messages and a context; what it leaves out is done, what it names retries or dies', async () => {
    let seen: { messages: readonly BatchMessage[]; context: BatchContext } | undefined;
    const type = batchType(async (messages, context) => {
      seen = { messages, context };
      return [
        { id: 'm2', outcome: 'retry', error: 'throttled', retryAfterMs: 5_000 },
        { id: 'm3', outcome: 'dead', error: new Error('number blocked') },
      ];
    });
    const outcomes = await dispatchBatch([message(1), message(2), message(3)], type, options);
    expect(seen?.messages).toEqual([
      { id: 'm1', payload: { to: '+15550001' }, attempt: 1, maxAttempts: 3 },
      { id: 'm2', payload: { to: '+15550002' }, attempt: 1, maxAttempts: 3 },
      { id: 'm3', payload: { to: '+15550003' }, attempt: 1, maxAttempts: 3 },
    ]);
    expect(seen?.context).toMatchObject({ queue: 'sms', type: 'bulk' });
    expect(seen?.context.signal.aborted).toBe(false);
    expect(Object.fromEntries(outcomes)).toEqual({
      m1: { kind: 'done' },
      m2: { kind: 'retry', error: 'throttled', retryAfterMs: 5_000 },
      m3: { kind: 'dead', error: 'Error: number blocked' },
    });
  });

  it('dead-letters a message whose payload fails the schema alone, without passing it', async () => {
    const passed: string[] = [];
    const type = batchType(async (messages) => void passed.push(...messages.map((m) => m.id)));
    const outcomes = await dispatchBatch([message(1), message(2, { to: 'nope' })], type, options);
    expect(passed).toEqual(['m1']);
    expect(outcomes.get('m1')).toEqual({ kind: 'done' });
    expect(outcomes.get('m2')).toMatchObject({ kind: 'dead', error: expect.stringContaining('to: ') as unknown });
  });

  it('does not call the handler when no payload passes', async () => {
    let called = false;
    const type = batchType(async () => void (called = true));
    const outcomes = await dispatchBatch([message(1, {})], type, options);
    expect(called).toBe(false);
    expect(outcomes.get('m1')?.kind).toBe('dead');
  });

  it.each([
    ['an Error', new Error('provider down'), undefined],
    ['a RetryableError with retryAfterMs', new RetryableError('throttled', { retryAfterMs: 2_000 }), 2_000],
    ['a PermanentError (one error for a whole batch is not every message’s)', new PermanentError('bad request'), undefined],
  ])('retries them all on a throw: %s', async (_label, error, retryAfterMs) => {
    const type = batchType(async () => {
      throw error;
    });
    const outcomes = await dispatchBatch([message(1), message(2)], type, options);
    for (const id of ['m1', 'm2']) {
      expect(outcomes.get(id)).toMatchObject({ kind: 'retry', ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
    }
  });

  it('retries them all when the handler throws before returning a promise', async () => {
    const type = batchType((() => {
      throw new Error('sync');
    }) as never);
    const outcomes = await dispatchBatch([message(1)], type, options);
    expect(outcomes.get('m1')).toEqual({ kind: 'retry', error: 'Error: sync' });
  });

  it('abandons the batch at its timeout, aborting its signal, and retries them all', async () => {
    let signal: AbortSignal | undefined;
    const type = batchType(async (_messages, context) => {
      signal = context.signal;
      await new Promise(() => {});
    }, 20);
    const outcomes = await dispatchBatch([message(1), message(2)], type, options);
    expect(outcomes.get('m1')).toEqual({ kind: 'retry', error: 'timed out after 20 ms' });
    expect(outcomes.get('m2')).toEqual({ kind: 'retry', error: 'timed out after 20 ms' });
    expect(signal?.aborted).toBe(true);
  });

  it('abandons the batch when the drain run aborts', async () => {
    const run = new AbortController();
    const type = batchType(async () => {
      await new Promise(() => {});
    });
    const pending = dispatchBatch([message(1)], type, { timeoutMs: 60_000, signal: run.signal });
    run.abort(new Error('out of time'));
    expect((await pending).get('m1')).toMatchObject({ kind: 'retry', error: expect.stringContaining('abandoned: drain run aborted') as unknown });
  });
});

describe('outcomesOf', () => {
  const batch: BatchMessage[] = [1, 2].map((n) => ({ id: `m${n}`, payload: {}, attempt: 1, maxAttempts: 3 }));

  it('ignores ids not in the batch, keeps the first outcome per message, and retries an unknown outcome', () => {
    const outcomes = outcomesOf(batch, [
      { id: 'elsewhere', outcome: 'dead', error: 'x' },
      { id: 'm1', outcome: 'dead', error: 'first' },
      { id: 'm1', outcome: 'retry', error: 'second' },
      { id: 'm2', outcome: 'skip', error: 'what' },
    ]);
    expect(Object.fromEntries(outcomes)).toEqual({
      m1: { kind: 'dead', error: 'first' },
      m2: { kind: 'retry', error: 'handleBatch answered an unknown outcome "skip": what' },
    });
  });

  it('takes a Map’s values or any iterable, and retries them all on an answer that is not a list', () => {
    const failures = new Map([['m2', { id: 'm2', outcome: 'retry' as const, error: 'later' }]]);
    expect(outcomesOf(batch, failures.values()).get('m2')).toEqual({ kind: 'retry', error: 'later' });
    expect(outcomesOf(batch, { m1: 'dead' }).get('m1')).toMatchObject({ kind: 'retry', error: expect.stringContaining('other than a list') as unknown });
  });
});
