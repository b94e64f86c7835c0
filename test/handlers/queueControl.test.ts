import { expect, it } from 'vitest';
import { createQueueControlHandler } from '../../handlers/queueControl.js';
import { listPausedQueues } from '../../lib/sql/index.js';
import { useStack } from '../support/stack.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger, testApp } from '../http/fixtures.js';

const stack = useStack();

async function call(queue: string, action: string, routeKey?: string) {
  const app = testApp(stack.db);
  const event = httpEvent({
    method: 'POST',
    path: `/queues/${queue}/${action}`,
    routeKey: routeKey ?? `POST /queues/{queue}/${action}`,
    pathParameters: { queue },
  });
  return parseResponse(await createQueueControlHandler(() => app, { logger: recordingLogger() })(event, lambdaContext));
}

it('pauses and resumes, the route deciding which', async () => {
  expect(await call('sms', 'pause')).toMatchObject({ statusCode: 200, body: { queue: 'sms', paused: true } });
  expect(await listPausedQueues(stack.db)).toEqual(new Set(['sms']));
  expect(await call('sms', 'resume')).toMatchObject({ statusCode: 200, body: { queue: 'sms', paused: false } });
  expect(await listPausedQueues(stack.db)).toEqual(new Set());
});

it('finds the route from the path when the event has no route key', async () => {
  expect(await call('sms', 'pause', '$default')).toMatchObject({ statusCode: 200, body: { paused: true } });
  expect(await call('sms', 'resume', '$default')).toMatchObject({ statusCode: 200, body: { paused: false } });
});

it('404 for an undeclared queue, and writes nothing', async () => {
  expect(await call('nope', 'pause')).toMatchObject({ statusCode: 404, body: { error: { code: 'unknown_queue' } } });
  const [rows] = (await stack.sql.query('SELECT * FROM queue_state')) as any;
  expect(rows.filter((r: any) => r.queue === 'nope')).toEqual([]);
});
