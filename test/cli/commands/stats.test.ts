import { beforeAll, expect, it } from 'vitest';
import { createApp } from '../../../lib/app.js';
import { enqueue } from '../../../lib/enqueue.js';
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
  expect(lines[0]).toMatch(/^queue +waiting +running +retrying +delayed +done +dead +cancelled +oldest due +paused$/);
  expect(lines.slice(2).map((line) => line.split(/ +/)[0])).toEqual(['default', 'sms', 'webhooks', 'orders']);
  expect(lines.find((line) => line.startsWith('sms'))).toMatch(/^sms +3 +0 +0 +1 +0 +0 +0 +\d+ s +no$/);
});

it('prints one queue as an object with --json, all as an array', async () => {
  const one = json(await runCaptured(['stats', 'sms', '--json'], stackEnv(stack)));
  expect(one).toEqual({
    queue: 'sms',
    counts: { waiting: 3, running: 0, retrying: 0, done: 0, dead: 0, cancelled: 0 },
    oldestDueAgeSeconds: expect.any(Number),
    delayed: 1,
    paused: false,
  });
  const all = json(await runCaptured(['stats', '--json'], stackEnv(stack)));
  expect(all.map((s: { queue: string }) => s.queue)).toEqual(['default', 'sms', 'webhooks', 'orders']);
});

it('exits 1 for an undeclared queue', async () => {
  const run = await runCaptured(['stats', 'nope'], stackEnv(stack));
  expect(run).toMatchObject({ code: 1, stderr: expect.stringContaining('queue "nope" is not declared') });
});
