import { expect, it } from 'vitest';
import { createApp } from '../../../lib/app.js';
import { enqueue } from '../../../lib/enqueue.js';
import { useStack } from '../../support/stack.js';
import { testConfig } from '../../support/config.js';
import { json, runCaptured, stackEnv } from '../helpers.js';

const stack = useStack();

async function enqueueOne(): Promise<string> {
  const app = createApp({ db: stack.db, env: {}, config: testConfig });
  const [answer] = await enqueue(app, 'sms', [{ type: 'sms.send', payload: { to: '+15551234567', body: 'hi' } }]);
  return answer!.id;
}

it('cancels a waiting message at once', async () => {
  const id = await enqueueOne();
  const run = await runCaptured(['cancel', id], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout).toMatch(/^status +cancelled$/m);
});

it('asks the drain running a message to stop it, and says so', async () => {
  const id = await enqueueOne();
  await stack.sql.query(`UPDATE queue_messages SET status = 'running', lease_token = 'lease-cli' WHERE id = ?`, [id]);
  const run = await runCaptured(['cancel', id, '--json'], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(json(run)).toMatchObject({ id, status: 'running', cancelRequested: true });
  const text = await runCaptured(['cancel', id], stackEnv(stack));
  expect(text.stdout).toContain('cancel requested');
});

it('refuses a finished message, naming its status', async () => {
  const id = await enqueueOne();
  await runCaptured(['cancel', id], stackEnv(stack));
  const run = await runCaptured(['cancel', id], stackEnv(stack));
  expect(run.code).not.toBe(0);
  expect(run.stderr).toContain('already cancelled');
});
