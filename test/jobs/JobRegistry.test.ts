import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { JobRegistry } from '../../lib/jobs/JobRegistry.js';
import { defineJobType, type JobType, type SingleJobType } from '../../lib/jobs/types.js';

function jobType(type: string, extra: Partial<SingleJobType> = {}): JobType {
  return { ...defineJobType({ type, payload: z.object({}), handle: async () => {} }), ...extra };
}

describe('JobRegistry', () => {
  it('finds types by name and lists them in registration order', () => {
    const sms = jobType('sms.send');
    const registry = new JobRegistry([sms, jobType('webhook')]);
    expect(registry.get('sms.send')).toBe(sms);
    expect(registry.get('nope')).toBeUndefined();
    expect(registry.has('webhook')).toBe(true);
    expect(registry.has('nope')).toBe(false);
    expect(registry.types()).toEqual(['sms.send', 'webhook']);
  });

  it('refuses a type registered twice', () => {
    expect(() => new JobRegistry([jobType('webhook'), jobType('webhook')])).toThrow('job type "webhook" is registered twice');
  });

  it.each(['', 'has space', 'x'.repeat(129), 'émoji'])('refuses the type name %j', (name) => {
    expect(() => new JobRegistry([jobType(name)])).toThrow(TypeError);
  });

  it.each<[string, Partial<SingleJobType>]>([
    ['timeoutMs 0', { timeoutMs: 0 }],
    ['timeoutMs Infinity', { timeoutMs: Number.POSITIVE_INFINITY }],
    ['maxAttempts 0', { maxAttempts: 0 }],
    ['maxAttempts 1.5', { maxAttempts: 1.5 }],
    ['a backoff factor below 1', { backoff: { factor: 0.5 } }],
  ])('refuses %s', (_label, extra) => {
    expect(() => new JobRegistry([jobType('t', extra)])).toThrow(RangeError);
  });

  it('accepts an empty list', () => {
    expect(new JobRegistry([]).types()).toEqual([]);
  });

  it('names the handler that may run longest, a type without a timeout counting as the default', () => {
    const registry = new JobRegistry([jobType('quick', { timeoutMs: 2_000 }), jobType('plain'), jobType('slow', { timeoutMs: 30_000 })]);
    expect(registry.longestTimeout(10_000)).toEqual({ type: 'slow', timeoutMs: 30_000 });
    expect(registry.longestTimeout(60_000)).toEqual({ type: 'plain', timeoutMs: 60_000 });
    expect(new JobRegistry([]).longestTimeout(10_000)).toEqual({ type: undefined, timeoutMs: 10_000 });
  });

  it("gives a queue's types as a registry of their own: its longest timeout, and why another type has no handler there", () => {
    const quick = jobType('quick', { timeoutMs: 2_000 });
    const registry = new JobRegistry([quick, jobType('slow', { timeoutMs: 30_000 })]);
    expect(registry.carriedBy(undefined)).toBe(registry);
    const carried = registry.carriedBy(['quick']);
    expect(carried.types()).toEqual(['quick']);
    expect(carried.get('quick')).toBe(quick);
    expect(carried.get('slow')).toBeUndefined();
    expect(carried.longestTimeout(10_000)).toEqual({ type: 'quick', timeoutMs: 2_000 });
    expect(carried.missingType('slow')).toBe('job type "slow" is not one its queue carries (its types in queue.config.ts: quick)');
    expect(carried.missingType('nope')).toBe('unknown job type "nope"');
    expect(registry.missingType('nope')).toBe('unknown job type "nope"');
    expect(() => registry.carriedBy(['nope'])).toThrow('job type "nope" is not registered (registered: quick, slow)');
  });
});

describe('JobRegistry: batch types', () => {
  const handleBatch = async () => {};

  it('accepts batch { maxSize, maxWaitMs? } with handleBatch', () => {
    const type = defineJobType({ type: 'bulk', payload: z.object({}), batch: { maxSize: 1_000, maxWaitMs: 500 }, handleBatch });
    expect(new JobRegistry([type]).get('bulk')).toBe(type);
  });

  it('counts the fewest messages a handler call takes: 1 with any single type, else the smallest maxSize', () => {
    const bulk = (type: string, maxSize: number) => defineJobType({ type, payload: z.object({}), batch: { maxSize }, handleBatch });
    expect(new JobRegistry([]).messagesPerHandler()).toBe(1);
    expect(new JobRegistry([bulk('a', 100), bulk('b', 50)]).messagesPerHandler()).toBe(50);
    expect(new JobRegistry([bulk('a', 100), jobType('single')]).messagesPerHandler()).toBe(1);
    expect(new JobRegistry([bulk('a', 100), jobType('single')]).carriedBy(['a']).messagesPerHandler()).toBe(100);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['maxSize 0', { batch: { maxSize: 0 }, handleBatch }, 'batch.maxSize: '],
    ['maxSize 1001', { batch: { maxSize: 1_001 }, handleBatch }, 'batch.maxSize: '],
    ['maxSize 1.5', { batch: { maxSize: 1.5 }, handleBatch }, 'batch.maxSize: '],
    ['a negative maxWaitMs', { batch: { maxSize: 10, maxWaitMs: -1 }, handleBatch }, 'batch.maxWaitMs: '],
    ['an unknown batch option', { batch: { maxSize: 10, size: 3 }, handleBatch }, 'batch: '],
    ['batch without handleBatch', { batch: { maxSize: 10 } }, 'handleBatch: '],
    ['both handle and handleBatch', { batch: { maxSize: 10 }, handleBatch, handle: handleBatch }, 'handle'],
    ['neither handle nor handleBatch', {}, 'handle'],
  ])('refuses %s, naming the field', (_label, declaration, field) => {
    const type = { type: 'bulk', payload: z.object({}), ...declaration } as unknown as JobType;
    expect(() => new JobRegistry([type])).toThrow(TypeError);
    expect(() => new JobRegistry([type])).toThrow(field);
  });
});
