import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { JobRegistry } from '../../lib/jobs/JobRegistry.js';
import { defineJobType, type JobType } from '../../lib/jobs/types.js';

function jobType(type: string, extra: Partial<JobType> = {}): JobType {
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

  it.each<[string, Partial<JobType>]>([
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
});
