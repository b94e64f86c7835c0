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
