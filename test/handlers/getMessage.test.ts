import { expect, it } from 'vitest';
import { createGetMessageHandler } from '../../handlers/getMessage.js';
import { enqueue } from '../../lib/enqueue.js';
import { uuidv7 } from '../../lib/ids.js';
import { messageView } from '../../schema/messages.js';
import { useStack } from '../support/stack.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger, testApp } from '../http/fixtures.js';

const stack = useStack();

const get = (id: string) => httpEvent({ method: 'GET', path: `/messages/${id}`, routeKey: 'GET /messages/{id}', pathParameters: { id } });

async function call(id: string) {
  const app = testApp(stack.db);
  return parseResponse(await createGetMessageHandler(() => app, { logger: recordingLogger() })(get(id), lambdaContext));
}

it('answers the message status', async () => {
  const [answer] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: { secret: 'not shown' }, delaySeconds: 30 }]);
  const response = await call(answer!.id);
  expect(response.statusCode).toBe(200);
  expect(messageView.strict().parse(response.body)).toMatchObject({
    id: answer!.id,
    queue: 'default',
    type: 'any',
    status: 'waiting',
    attempts: 0,
    maxAttempts: 5,
    availableAt: '2026-03-01T12:00:30.000Z',
  });
  expect(JSON.stringify(response.body)).not.toContain('not shown');
});

it('accepts an id in upper case', async () => {
  const [answer] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: 1 }]);
  expect((await call(answer!.id.toUpperCase())).body.id).toBe(answer!.id);
});

it('404 for an unknown id', async () => {
  const response = await call(uuidv7());
  expect(response).toMatchObject({ statusCode: 404, body: { error: { code: 'unknown_message', field: 'id' } } });
});

it('400 for something that is not an id', async () => {
  const response = await call('12345');
  expect(response).toMatchObject({ statusCode: 400, body: { error: { field: 'id', message: expect.stringContaining('UUID') } } });
});

/** Marks a message done under a lease and stores its outputs as the drain does. */
async function finished(id: string, outputs: { result?: string; progress?: string }): Promise<void> {
  await stack.sql.query("UPDATE queue_messages SET status = 'done', lease_token = 'lease-1', finished_at = updated_at WHERE id = ?", [id]);
  await stack.sql.query(
    'INSERT INTO queue_message_outputs (message_id, lease_token, result, result_bytes, progress, progress_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    [
      id,
      'lease-1',
      outputs.result ?? null,
      outputs.result === undefined ? null : Buffer.byteLength(outputs.result),
      outputs.progress ?? null,
      outputs.progress === undefined ? null : new Date('2026-03-01T12:00:05.000Z'),
      new Date(),
    ],
  );
}

async function callCounting(id: string) {
  const db = stack.newDb();
  const app = testApp(db);
  const response = parseResponse(await createGetMessageHandler(() => app, { logger: recordingLogger() })(get(id), lambdaContext));
  return { response, calls: db.stats.calls };
}

it("answers a done message's result and progress in one call", async () => {
  const [answer] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: { n: 1 } }]);
  await finished(answer!.id, { result: '{"sid":"SM1","parts":[1,2]}', progress: '{"step":"sent"}' });
  const { response, calls } = await callCounting(answer!.id);
  expect(messageView.strict().parse(response.body)).toMatchObject({
    status: 'done',
    result: { sid: 'SM1', parts: [1, 2] },
    progress: { step: 'sent' },
    progressAt: '2026-03-01T12:00:05.000Z',
  });
  expect(calls).toBe(1);
});

it('reads a result too large to come beside its payload in a second call', async () => {
  const [answer] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: 'p'.repeat(40_000) }]);
  const result = JSON.stringify({ text: 'r'.repeat(30_000) });
  await finished(answer!.id, { result });
  const { response, calls } = await callCounting(answer!.id);
  expect(response.body.result).toEqual({ text: 'r'.repeat(30_000) });
  expect(calls).toBe(2);
});
