import { expect, it } from 'vitest';
import { createStatsHandler } from '../../handlers/stats.js';
import { enqueue } from '../../lib/enqueue.js';
import { useStack } from '../support/stack.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger, testApp } from '../http/fixtures.js';

const stack = useStack();

async function call(queue: string) {
  const app = testApp(stack.db);
  const event = httpEvent({ method: 'GET', path: `/queues/${queue}/stats`, routeKey: 'GET /queues/{queue}/stats', pathParameters: { queue } });
  return parseResponse(await createStatsHandler(() => app, { logger: recordingLogger() })(event, lambdaContext));
}

it('answers counts by status', async () => {
  await enqueue(testApp(stack.db), 'orders', [{ type: 'any', payload: 1 }, { type: 'any', payload: 2, delaySeconds: 60 }]);
  const response = await call('orders');
  expect(response.statusCode).toBe(200);
  expect(response.body).toEqual({
    queue: 'orders',
    counts: { waiting: 2, running: 0, retrying: 0, done: 0, dead: 0, cancelled: 0 },
    oldestDueAgeSeconds: 0,
    delayed: 1,
    paused: false,
  });
});

it('404 for an undeclared queue', async () => {
  expect(await call('nope')).toMatchObject({ statusCode: 404, body: { error: { code: 'unknown_queue' } } });
});
