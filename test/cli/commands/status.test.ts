import { beforeAll, expect, it } from 'vitest';
import { enqueue } from '../../../lib/enqueue.js';
import { createApp } from '../../../lib/app.js';
import { parseTraceparent } from '../../../lib/tracing.js';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';
import { testConfig } from '../../support/config.js';

const stack = useStack();
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
let id: string;
let tracedId: string;

beforeAll(async () => {
  const app = createApp({ db: stack.db, env: {}, config: testConfig });
  const [answer] = await enqueue(app, 'sms', [{ type: 'sms.send', payload: { to: '+15551234567', body: 'hi' }, dedupKey: 'k-1', priority: 3 }]);
  id = answer!.id;
  const [traced] = await enqueue(app, 'sms', [{ type: 'sms.send', payload: { to: '+15551234567', body: 'traced' } }], {
    traceContext: parseTraceparent(`00-${TRACE_ID}-00f067aa0ba902b7-01`),
  });
  tracedId = traced!.id;
});
it("prints a message's fields as a table", async () => {
  const run = await runCaptured(['status', id], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stderr: '' });
  const lines = run.stdout.trimEnd().split('\n');
  // Labels padded to the longest ("available at"), then two spaces.
  expect(lines).toContain(`id            ${id}`);
  expect(lines).toContain('status        waiting');
  expect(lines).toContain('attempts      0 of 5');
  expect(lines).toContain('dedup key     k-1');
  expect(run.stdout).not.toContain('finished at');
  // Enqueued without a trace context: no trace row, not an empty one.
  expect(run.stdout).not.toMatch(/^trace/m);
});

it('prints the trace id of a message enqueued with a trace context, as text and with --json', async () => {
  const run = await runCaptured(['status', tracedId], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stderr: '' });
  expect(run.stdout.trimEnd().split('\n')).toContain(`trace         ${TRACE_ID}`);
  expect(json(await runCaptured(['status', tracedId, '--json'], stackEnv(stack)))).toMatchObject({ id: tracedId, traceId: TRACE_ID });
});

it('prints the API view with --json, and accepts an upper-case id', async () => {
  const view = json(await runCaptured(['status', id.toUpperCase(), '--json'], stackEnv(stack)));
  expect(view).toMatchObject({ id, queue: 'sms', type: 'sms.send', status: 'waiting', priority: 3, attempts: 0, maxAttempts: 5, dedupKey: 'k-1' });
  expect(view).not.toHaveProperty('traceId');
});

it('exits 1 for an unknown id and 2 without one', async () => {
  const unknown = await runCaptured(['status', '0190a5b4-0000-7000-8000-000000000000'], stackEnv(stack));
  expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'aurora-queue status: no message with id 0190a5b4-0000-7000-8000-000000000000\n' });
  const missing = await runCaptured(['status'], stackEnv(stack));
  expect(missing).toMatchObject({ code: 2, stderr: 'aurora-queue: missing argument\nusage: aurora-queue status <id>\n' });
});

it('prints the progress and result of a message that has them, a long result clipped (whole with --json)', async () => {
  const app = createApp({ db: stack.db, env: {}, config: testConfig });
  const [short, long] = await enqueue(app, 'sms', [
    { type: 'sms.send', payload: { to: '+15551234567', body: 'short' } },
    { type: 'sms.send', payload: { to: '+15551234567', body: 'long' } },
  ]);
  const result = { sid: 'SM1', log: 'x'.repeat(300) };
  for (const [message, text] of [
    [short!, '{"sid":"SM1"}'],
    [long!, JSON.stringify(result)],
  ] as const) {
    await stack.sql.query("UPDATE queue_messages SET status = 'done', lease_token = 'lease-1', finished_at = updated_at WHERE id = ?", [message.id]);
    await stack.sql.query(
      'INSERT INTO queue_message_outputs (message_id, lease_token, result, result_bytes, progress, progress_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [message.id, 'lease-1', text, text.length, '{"sent":1}', new Date('2026-03-01T12:00:05.000Z'), new Date()],
    );
  }
  const run = await runCaptured(['status', short!.id], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stderr: '' });
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines).toContain('progress      {"sent":1} (at 2026-03-01T12:00:05.000Z)');
  expect(lines).toContain('result        {"sid":"SM1"}');
  const clipped = (await runCaptured(['status', long!.id], stackEnv(stack))).stdout.trimEnd().split('\n');
  expect(clipped).toContain(`result        ${JSON.stringify(result).slice(0, 200)}… (${JSON.stringify(result).length} characters; --json shows it whole)`);
  expect(json(await runCaptured(['status', long!.id, '--json'], stackEnv(stack)))).toMatchObject({ result, progress: { sent: 1 } });
});
