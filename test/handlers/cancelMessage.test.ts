import { expect, it } from 'vitest';
import { createCancelMessageHandler } from '../../handlers/cancelMessage.js';
import { enqueue } from '../../lib/enqueue.js';
import { uuidv7 } from '../../lib/ids.js';
import { useStack } from '../support/stack.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger, testApp } from '../http/fixtures.js';

const stack = useStack();

const del = (id: string) => httpEvent({ method: 'DELETE', path: `/messages/${id}`, routeKey: 'DELETE /messages/{id}', pathParameters: { id } });

async function call(id: string) {
  const app = testApp(stack.db);
  return parseResponse(await createCancelMessageHandler(() => app, { logger: recordingLogger() })(del(id), lambdaContext));
}

async function enqueueOne(): Promise<string> {
  const [answer] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: 1 }]);
  return answer!.id;
}

it('cancels a waiting message', async () => {
  const id = await enqueueOne();
  const response = await call(id);
  expect(response).toMatchObject({ statusCode: 200, body: { id, status: 'cancelled', finishedAt: expect.any(String) } });
  const [[row]] = (await stack.sql.query('SELECT status FROM queue_messages WHERE id = ?', [id])) as any;
  expect(row.status).toBe('cancelled');
});

it('requests the cancel of a running message: 200 with status running and cancelRequested', async () => {
  const id = await enqueueOne();
  await stack.sql.query(`UPDATE queue_messages SET status = 'running', lease_token = 'lease-1' WHERE id = ?`, [id]);
  const response = await call(id);
  expect(response).toMatchObject({ statusCode: 200, body: { id, status: 'running', cancelRequested: true } });
  const [[request]] = (await stack.sql.query('SELECT lease_token FROM queue_cancel_requests WHERE message_id = ?', [id])) as any;
  expect(request.lease_token).toBe('lease-1');
});

it('409 with the current status for a finished message', async () => {
  const id = await enqueueOne();
  await stack.sql.query(`UPDATE queue_messages SET status = 'done', finished_at = NOW(3) WHERE id = ?`, [id]);
  const response = await call(id);
  expect(response).toMatchObject({ statusCode: 409, body: { error: { code: 'not_cancellable', status: 'done' } } });
});

it('409 when cancelled already', async () => {
  const id = await enqueueOne();
  expect((await call(id)).statusCode).toBe(200);
  expect(await call(id)).toMatchObject({ statusCode: 409, body: { error: { status: 'cancelled' } } });
});

it('404 for an unknown id', async () => {
  expect((await call(uuidv7())).statusCode).toBe(404);
});
