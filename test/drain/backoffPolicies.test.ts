/** A queue's retry backoff by job type (lib/drain/backoffPolicies.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF } from '../../lib/backoff.js';
import { BackoffPolicies } from '../../lib/drain/backoffPolicies.js';

describe('BackoffPolicies', () => {
  it('gives a type’s own policy over the queue’s over the default', () => {
    const policies = new BackoffPolicies({ baseMs: 500, maxMs: 10_000 });
    expect(policies.policyFor({ type: 'fast', backoff: { baseMs: 50 } })).toEqual({ baseMs: 50, factor: DEFAULT_BACKOFF.factor, maxMs: 10_000 });
    expect(policies.policyFor({ type: 'plain' })).toEqual({ baseMs: 500, factor: DEFAULT_BACKOFF.factor, maxMs: 10_000 });
  });

  it('gives a type not registered the queue’s policy', () => {
    expect(new BackoffPolicies({}).policyFor(undefined)).toEqual(DEFAULT_BACKOFF);
  });

  it('resolves each type once', () => {
    const policies = new BackoffPolicies({});
    const type = { type: 't', backoff: { baseMs: 1 } };
    const first = policies.policyFor(type);
    expect(policies.policyFor(type)).toBe(first);
    expect(policies.policyFor(undefined)).toBe(policies.policyFor(undefined));
    expect(policies.policyFor(undefined)).not.toBe(first);
  });

  it('fails on a policy that cannot work, where it is first used', () => {
    expect(() => new BackoffPolicies({ factor: 0.5 }).policyFor(undefined)).toThrow(RangeError);
  });
});
