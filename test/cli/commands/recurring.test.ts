import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineConfig } from '../../../lib/config.js';
import { defineJobType } from '../../../lib/jobs/types.js';
import { json, runCaptured } from '../helpers.js';

const report = defineJobType({ type: 'report', payload: z.object({ day: z.string() }), handle: async () => {} });
const config = defineConfig({
  queues: [{ name: 'reports' }],
  jobTypes: [report],
  recurring: [
    { name: 'new-year-2099', schedule: 'cron(0 9 1 1 ? 2099)', queue: 'reports', type: 'report', payload: { day: 'new year' }, timezone: 'Europe/Paris' },
    { name: 'every-5', schedule: 'rate(5 minutes)', queue: 'reports', type: 'report', payload: { day: 'now' }, catchUp: 3 },
    { name: 'past', schedule: 'cron(0 9 1 1 ? 2020)', queue: 'reports', type: 'report', payload: { day: 'gone' } },
  ],
});

describe('aurora-queue recurring', () => {
  it('lists each entry with its next slot, from the config alone (no database)', async () => {
    const before = Date.now();
    const listed = json(await runCaptured(['recurring', '--json'], {}, { config }));
    expect(listed).toEqual([
      {
        name: 'new-year-2099',
        schedule: 'cron(0 9 1 1 ? 2099)',
        timezone: 'Europe/Paris',
        queue: 'reports',
        type: 'report',
        catchUp: 1,
        nextSlot: '2099-01-01T08:00:00.000Z',
      },
      { name: 'every-5', schedule: 'rate(5 minutes)', timezone: 'UTC', queue: 'reports', type: 'report', catchUp: 3, nextSlot: expect.any(String) },
      { name: 'past', schedule: 'cron(0 9 1 1 ? 2020)', timezone: 'UTC', queue: 'reports', type: 'report', catchUp: 1, nextSlot: null },
    ]);
    const every5 = Date.parse(listed[1].nextSlot);
    expect(every5 % 300_000).toBe(0);
    expect(every5).toBeGreaterThan(before);
    expect(every5).toBeLessThanOrEqual(Date.now() + 300_000);
  });

  it('prints a table', async () => {
    const run = await runCaptured(['recurring'], {}, { config });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [header, , first, , third] = run.stdout.split('\n');
    expect(header).toMatch(/^name +schedule +timezone +queue +type +catch-up +next slot$/);
    expect(first).toMatch(/^new-year-2099 +cron\(0 9 1 1 \? 2099\) +Europe\/Paris +reports +report +1 +2099-01-01T08:00:00\.000Z \(in \d+ d \d+ h\)$/);
    expect(third).toMatch(/^past .* none \(no slot left\)$/);
  });

  it('says where to declare them when there are none', async () => {
    expect(await runCaptured(['recurring'], {})).toMatchObject({
      code: 0,
      stdout: 'no recurring messages: declare them under `recurring` in queue.config.ts\n',
    });
    expect(json(await runCaptured(['recurring', '--json'], {}))).toEqual([]);
  });

  it('takes no arguments', async () => {
    expect(await runCaptured(['recurring', 'reports'], {}, { config })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('unexpected argument "reports"'),
    });
  });
});
