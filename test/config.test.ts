import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createApp } from '../lib/app.js';
import { ConfigError, defineConfig } from '../lib/config.js';
import { defineJobType } from '../lib/jobs/types.js';
import { useStack } from './support/stack.js';

const quick = defineJobType({ type: 'quick', payload: z.object({}), timeoutMs: 1_000, handle: async () => {} });
const slow = defineJobType({ type: 'slow.report', payload: z.object({}), timeoutMs: 30_000, handle: async () => {} });

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('defineConfig', () => {
  it('returns the queues and job types it was given', () => {
    const config = defineConfig({ queues: [{ name: 'default' }], jobTypes: [quick] });
    expect(config.queues).toEqual([{ name: 'default' }]);
    expect(config.jobTypes).toEqual([quick]);
  });

  it('refuses per-group limits a FIFO queue cannot have, and bad group settings, naming each', () => {
    const problems = problemsOf(() =>
      defineConfig({
        queues: [
          { name: 'ledger', fifo: true, groups: { concurrency: 3 } },
          { name: 'paced', fifo: true, groups: { ratePerSecond: 2 } },
          { name: 'tenants', groups: { concurrency: 0, ratePerSecond: 5_000, fairly: true } as never },
        ],
        jobTypes: [quick],
      }),
    );
    expect(problems).toEqual([
      'queue "ledger": groups.concurrency 3 cannot go with fifo: true, which runs one message per group at a time in order; drop fifo or the concurrency',
      'queue "paced": groups.ratePerSecond and groups.fair are for queues without fifo: true (a FIFO queue already runs its groups side by side, one message each)',
      expect.stringMatching(/^queue "tenants": groups\.concurrency must be a whole number of at least 1/),
      expect.stringMatching(/^queue "tenants": groups\.ratePerSecond must be at most 1000/),
      expect.stringMatching(/^queue "tenants": .*fairly/),
    ]);
    expect(() =>
      defineConfig({
        queues: [
          { name: 'ledger', fifo: true, groups: { concurrency: 1 } },
          { name: 't', groups: { fair: true } },
        ],
        jobTypes: [quick],
      }),
    ).not.toThrow();
  });

  it('names the queue and the rule for each problem, all at once', () => {
    const problems = problemsOf(() =>
      defineConfig({
        queues: [
          { name: 'sms', ratePerSecond: 0 },
          { name: 'sms' },
          { name: 'bad name!' },
          { name: 'orders', concurrency: 2.5, batchSize: 5_000 },
          { name: 'typo', ratePerSec: 5 } as never,
        ],
        jobTypes: [quick],
      }),
    );
    expect(problems).toEqual([
      'queue "sms": ratePerSecond must be a positive number',
      'queue "sms": declared twice',
      'queue "bad name!": name must be 1-64 characters of A-Z a-z 0-9 . _ : -',
      'queue "orders": batchSize must be at most 1000',
      'queue "orders": concurrency must be a whole number of at least 1',
      'queue "typo": unknown setting ratePerSec',
    ]);
  });

  it('refuses a job type registered twice or badly named, naming the type', () => {
    expect(problemsOf(() => defineConfig({ queues: [{ name: 'q' }], jobTypes: [quick, quick] }))).toEqual(['job type "quick" is registered twice']);
    const badName = defineJobType({ type: 'no spaces', payload: z.object({}), handle: async () => {} });
    expect(problemsOf(() => defineConfig({ queues: [{ name: 'q' }], jobTypes: [badName] }))[0]).toMatch(/job type name "no spaces" must be/);
  });

  it('refuses a lease too short even for heartbeats; a longer handler needs no longer lease', () => {
    expect(problemsOf(() => defineConfig({ queues: [{ name: 'reports', leaseSeconds: 12 }], jobTypes: [quick, slow] }))).toEqual([
      'queue "reports": leaseSeconds 12 is too short: it must fit what heartbeats need (the longest handler, slow.report: 30 s, is kept alive by them): ' +
        "the claim's round trip (2 s) + 1.5 × (the settle margin (5 s) + a beat's round trip (2 s)) = 12.5 s; make the lease at least 12.5 s",
    ]);
    expect(() => defineConfig({ queues: [{ name: 'reports', leaseSeconds: 12.5 }], jobTypes: [quick, slow] })).not.toThrow();
  });

  it('takes the lease of the issue, 15 s for a 10 s webhook: heartbeats keep it', () => {
    const webhookLike = defineJobType({ type: 'webhook', payload: z.object({}), timeoutMs: 10_000, handle: async () => {} });
    expect(() => defineConfig({ queues: [{ name: 'hooks', leaseSeconds: 15 }], jobTypes: [webhookLike] })).not.toThrow();
  });

  it('checks leases against a lowered margin when the config says so (tests with tiny leases)', () => {
    expect(() => defineConfig({ queues: [{ name: 'q', leaseSeconds: 3.5 }], jobTypes: [quick], leaseMarginMs: 500 })).not.toThrow();
    expect(problemsOf(() => defineConfig({ queues: [{ name: 'q', leaseSeconds: 3.4 }], jobTypes: [quick], leaseMarginMs: 500 }))[0]).toMatch(
      /the settle margin \(0.5 s\)/,
    );
  });

  it("checks a queue's types: registered, named once, at least one; its recurring entries of those types", () => {
    expect(
      problemsOf(() =>
        defineConfig({
          queues: [
            { name: 'a', types: ['quick', 'nope', 'quick'] },
            { name: 'b', types: [] },
          ],
          jobTypes: [quick, slow],
          recurring: [{ name: 'nightly', schedule: 'rate(1 day)', queue: 'a', type: 'slow.report', payload: {} }],
        }),
      ),
    ).toEqual([
      'queue "a": types: "nope" is not a registered job type (registered: quick, slow.report)',
      'queue "a": types: "quick" is named twice',
      'queue "b": types must name at least one job type',
      'recurring "nightly": type "slow.report" is not one queue "a" carries (its types: quick, nope, quick)',
    ]);
  });

  it('refuses types that are not a list of names as a ConfigError, whatever a recurring entry of the queue says', () => {
    const problems = problemsOf(() =>
      defineConfig({
        queues: [{ name: 'a', types: 5 as never }],
        jobTypes: [quick],
        recurring: [{ name: 'nightly', schedule: 'rate(1 day)', queue: 'a', type: 'quick', payload: {} }],
      }),
    );
    expect(problems).toEqual(['queue "a": types must be a list of job type names']);
  });

  it("fits a queue's lease to the types it carries: a slow type elsewhere asks nothing of it", () => {
    expect(() => defineConfig({ queues: [{ name: 'fast', leaseSeconds: 8, types: ['quick'] }, { name: 'reports' }], jobTypes: [quick, slow] })).not.toThrow();
    expect(problemsOf(() => defineConfig({ queues: [{ name: 'fast', leaseSeconds: 8, types: ['slow.report'] }], jobTypes: [quick, slow] }))[0]).toMatch(
      /^queue "fast": leaseSeconds 8 is too short: .*slow\.report: 30 s/,
    );
  });

  it('refuses an empty queue list', () => {
    expect(problemsOf(() => defineConfig({ queues: [], jobTypes: [quick] }))).toEqual(['queues: declare at least one queue']);
  });
});

describe('createApp', () => {
  const stack = useStack({ migrate: false });

  it('applies the drain-wide defaults of the environment and checks the lease they give', () => {
    const config = defineConfig({ queues: [{ name: 'reports' }, { name: 'fast', leaseSeconds: 120 }], jobTypes: [slow] });
    expect(createApp({ config, db: stack.db, env: { LEASE_SECONDS: '40', DRAIN_BATCH_SIZE: '25' } }).queues.get('reports')).toMatchObject({
      leaseSeconds: 40,
      batchSize: 25,
    });
    expect(() => createApp({ config, db: stack.db, env: { LEASE_SECONDS: '10' } })).toThrow(/queue "reports": leaseSeconds 10 is too short/);
  });

  it("refuses a queue's unregistered types in a config not made by defineConfig, as a ConfigError", () => {
    const config = { queues: [{ name: 'q', types: ['nope'] }], jobTypes: [quick] };
    expect(problemsOf(() => createApp({ config, db: stack.db, env: {} }))).toEqual([
      'queue "q": types: "nope" is not a registered job type (registered: quick)',
    ]);
  });
});
