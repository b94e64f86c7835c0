/** A lane's gathering of batch-type messages (lib/drain/batchGathering.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { BatchGathering, type DueInput } from '../../lib/drain/batchGathering.js';
import { defineJobType, type BatchJobType } from '../../lib/jobs/types.js';

interface Msg {
  id: string;
  type: string;
  leaseUntilMs: number;
}

function batchType(type: string, maxSize: number, extra: { maxWaitMs?: number; timeoutMs?: number } = {}): BatchJobType {
  return defineJobType({
    type,
    payload: z.unknown(),
    batch: { maxSize, ...(extra.maxWaitMs === undefined ? {} : { maxWaitMs: extra.maxWaitMs }) },
    ...(extra.timeoutMs === undefined ? {} : { timeoutMs: extra.timeoutMs }),
    handleBatch: async () => {},
  });
}

const LEASE_UNTIL = 60_000;
const msg = (id: string, type = 'bulk', leaseUntilMs = LEASE_UNTIL): Msg => ({ id, type, leaseUntilMs });
const input = (overrides: Partial<DueInput> = {}): DueInput => ({
  nowMs: 0,
  remainingMs: 600_000,
  marginMs: 1_000,
  defaultTimeoutMs: 10_000,
  slots: 10,
  flush: false,
  ...overrides,
});
const ids = (messages: readonly Msg[]) => messages.map((m) => m.id);

describe('BatchGathering', () => {
  it('hands over full batches at once, in the order gathered, and counts what waits as the handlers it makes', () => {
    const type = batchType('bulk', 3, { maxWaitMs: 5_000 });
    const gathering = new BatchGathering<Msg>();
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g']) gathering.add(msg(id), type, 0);
    expect(gathering.size).toBe(7);
    expect(gathering.handlers).toBe(3);
    const { batches, nextInMs } = gathering.due(input());
    expect(batches.map((b) => ids(b.messages))).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e', 'f'],
    ]);
    // The partial one waits out maxWaitMs.
    expect(nextInMs).toBe(5_000);
    expect(gathering.size).toBe(1);
    expect(gathering.handlers).toBe(1);
  });

  it('hands over a partial batch once it has waited maxWaitMs, and at once without one', () => {
    const waiting = batchType('bulk', 10, { maxWaitMs: 2_000 });
    const gathering = new BatchGathering<Msg>();
    gathering.add(msg('a'), waiting, 1_000);
    gathering.add(msg('b'), waiting, 2_500);
    expect(gathering.due(input({ nowMs: 2_999 }))).toEqual({ batches: [], nextInMs: 1 });
    expect(ids(gathering.due(input({ nowMs: 3_000 })).batches[0]!.messages)).toEqual(['a', 'b']);

    const eager = batchType('eager', 10);
    const other = new BatchGathering<Msg>();
    other.add(msg('c', 'eager'), eager, 0);
    expect(ids(other.due(input()).batches[0]!.messages)).toEqual(['c']);
  });

  it('never waits past the point where the first lease or the run would no longer fit the timeout', () => {
    const type = batchType('bulk', 10, { maxWaitMs: 60_000, timeoutMs: 10_000 });
    const gathering = new BatchGathering<Msg>();
    gathering.add(msg('a', 'bulk', 30_000), type, 0);
    gathering.add(msg('b', 'bulk', 40_000), type, 0);
    // Lease: 30,000 - 10,000 - 1,000 margin.
    expect(gathering.due(input({ nowMs: 0 })).nextInMs).toBe(19_000);
    // The run: 15,000 left - 10,000 - 1,000.
    expect(gathering.due(input({ nowMs: 0, remainingMs: 15_000 })).nextInMs).toBe(4_000);
    expect(gathering.due(input({ nowMs: 19_000 })).batches).toHaveLength(1);
  });

  it('flushes every partial batch when the lane stops, and starts no more batches than there are slots', () => {
    const one = batchType('one', 2, { maxWaitMs: 60_000 });
    const two = batchType('two', 2, { maxWaitMs: 60_000 });
    const gathering = new BatchGathering<Msg>();
    for (const id of ['a', 'b', 'c']) gathering.add(msg(id, 'one'), one, 0);
    gathering.add(msg('d', 'two'), two, 0);
    const first = gathering.due(input({ slots: 1, flush: true }));
    expect(first.batches.map((b) => ids(b.messages))).toEqual([['a', 'b']]);
    const rest = gathering.due(input({ slots: 5, flush: true }));
    expect(rest.batches.map((b) => [b.jobType.type, ids(b.messages)])).toEqual([
      ['one', ['c']],
      ['two', ['d']],
    ]);
    expect(gathering.size).toBe(0);
  });

  it('gives everything back on takeAll', () => {
    const type = batchType('bulk', 10, { maxWaitMs: 1_000 });
    const gathering = new BatchGathering<Msg>();
    gathering.add(msg('a'), type, 0);
    gathering.add(msg('b'), type, 0);
    expect(ids(gathering.takeAll())).toEqual(['a', 'b']);
    expect(gathering.size).toBe(0);
    expect(gathering.handlers).toBe(0);
    expect(gathering.due(input())).toEqual({ batches: [], nextInMs: undefined });
  });
});
