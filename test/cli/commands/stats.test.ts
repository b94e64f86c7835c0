import { beforeAll, expect, it } from 'vitest';
import { createApp } from '../../../lib/app.js';
import { defineConfig } from '../../../lib/config.js';
import { enqueue } from '../../../lib/enqueue.js';
import { sms } from '../../../lib/jobs/index.js';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';
import { testConfig } from '../../support/config.js';

const stack = useStack();

beforeAll(async () => {
  const app = createApp({ db: stack.db, env: {}, config: testConfig });
  const text = { type: 'sms.send' as const, payload: { to: '+15551234567', body: 'hi' } };
  await enqueue(app, 'sms', [text, text, { ...text, delaySeconds: 600 }]);
});
it('prints every declared queue as a table row', async () => {
  const run = await runCaptured(['stats'], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stderr: '' });
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^queue +waiting +running +retrying +delayed +done +dead +cancelled +oldest due +groups +blocked +permits in use +paused$/);
  expect(lines.slice(2).map((line) => line.split(/ +/)[0])).toEqual(['default', 'sms', 'webhooks', 'orders']);
  // sms has a queue-wide rate (50/s): its permits taken in the current window, of 50.
  expect(lines.find((line) => line.startsWith('sms'))).toMatch(/^sms +3 +0 +0 +1 +0 +0 +0 +\d+ s +– +– +rate 0\/50 +no$/);
  expect(lines.find((line) => line.startsWith('webhooks'))).toMatch(/ +run 0\/10 +no$/);
  expect(lines.find((line) => line.startsWith('default'))).toMatch(/ +– +– +– +no$/);
});

it('prints one queue as an object with --json, all as an array', async () => {
  const one = json(await runCaptured(['stats', 'sms', '--json'], stackEnv(stack)));
  expect(one).toEqual({
    queue: 'sms',
    counts: { waiting: 3, running: 0, retrying: 0, done: 0, dead: 0, cancelled: 0 },
    oldestDueAgeSeconds: expect.any(Number),
    delayed: 1,
    paused: false,
    permitsInUse: { rate: 0 },
  });
  const all = json(await runCaptured(['stats', '--json'], stackEnv(stack)));
  expect(all.map((s: { queue: string }) => s.queue)).toEqual(['default', 'sms', 'webhooks', 'orders']);
});

it('exits 1 for an undeclared queue', async () => {
  const run = await runCaptured(['stats', 'nope'], stackEnv(stack));
  expect(run).toMatchObject({ code: 1, stderr: expect.stringContaining('queue "nope" is not declared') });
});

it("shows a FIFO queue's groups and those blocked by a retrying head", async () => {
  const config = defineConfig({ queues: [{ name: 'ledger', fifo: true, concurrency: 5, ratePerSecond: 2.5 }], jobTypes: [sms({ env: {} })] });
  const app = createApp({ db: stack.db, env: {}, config });
  const text = (groupKey: string) => ({ type: 'sms.send' as const, payload: { to: '+15551234567', body: 'hi' }, groupKey });
  await enqueue(app, 'ledger', [text('acct-1'), text('acct-1'), text('acct-2')]);
  await stack.sql.query("UPDATE queue_messages SET status = 'retrying', attempts = 1 WHERE queue = 'ledger' ORDER BY id LIMIT 1");

  const run = await runCaptured(['stats', 'ledger'], stackEnv(stack), { config });
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout.trimEnd().split('\n')[2]).toMatch(/^ledger +2 +0 +1 +0 +0 +0 +0 +\d+ s +2 +1 +run 0\/5, rate 0\/3 +no$/);
  expect(json(await runCaptured(['stats', 'ledger', '--json'], stackEnv(stack), { config }))).toMatchObject({
    groups: { live: 2, inFlight: 0, blocked: 1 },
    permitsInUse: { run: 0, rate: 0 },
  });
});

it('prints a grouped queue’s top groups under the table', async () => {
  const { topGroupsLines } = await import('../../../cli/commands/stats.js');
  const base = { counts: { waiting: 0, running: 0, retrying: 0, done: 0, dead: 0, cancelled: 0 }, oldestDueAgeSeconds: 0, delayed: 0, paused: false };
  expect(
    topGroupsLines([
      { ...base, queue: 'plain' },
      {
        ...base,
        queue: 'tenants',
        topGroups: [
          { groupKey: 'acme', unfinished: 5000, running: 2, paused: false },
          { groupKey: 'zeta', unfinished: 3, running: 0, paused: true },
        ],
      },
    ]),
  ).toEqual(['top groups of tenants: acme 5,000 (2 running), zeta 3 (0 running, paused)']);
});
