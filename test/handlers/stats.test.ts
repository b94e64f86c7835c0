import { expect, it } from 'vitest';
import { createStatsHandler } from '../../handlers/stats.js';
import { createApp, type App } from '../../lib/app.js';
import { ManualClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import { enqueue } from '../../lib/enqueue.js';
import { ROUTES } from '../../schema/routes.js';
import { useStack } from '../support/stack.js';
import { anyType, httpEvent, lambdaContext, parseResponse, recordingLogger, testApp } from '../http/fixtures.js';

const stack = useStack();

async function call(queue: string, app: App = testApp(stack.db)) {
  const event = httpEvent({ method: 'GET', path: `/queues/${queue}/stats`, routeKey: 'GET /queues/{queue}/stats', pathParameters: { queue } });
  return parseResponse(await createStatsHandler(() => app, { logger: recordingLogger() })(event, lambdaContext));
}

it('answers counts by status', async () => {
  await enqueue(testApp(stack.db), 'orders', [
    { type: 'any', payload: 1 },
    { type: 'any', payload: 2, delaySeconds: 60 },
  ]);
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

it("answers a FIFO queue's groups and its queue-wide permits in use, as the API document describes them", async () => {
  const config = defineConfig({ queues: [{ name: 'ledger', fifo: true, concurrency: 4 }], jobTypes: [anyType] });
  const app = createApp({ db: stack.db, clock: new ManualClock('2026-03-01T12:00:00.000Z'), config, env: {} });
  await enqueue(app, 'ledger', [
    { type: 'any', payload: 1, groupKey: 'acct-1' },
    { type: 'any', payload: 2, groupKey: 'acct-1' },
    { type: 'any', payload: 3, groupKey: 'acct-2' },
  ]);
  const response = await call('ledger', app);
  expect(response.statusCode).toBe(200);
  expect(response.body).toMatchObject({ counts: { waiting: 3 }, groups: { live: 2, inFlight: 0, blocked: 0 }, permitsInUse: { run: 0 } });
  const route = ROUTES.find((r) => r.method === 'GET' && r.path === '/queues/{queue}/stats')!;
  expect(route.responses[200]!.parse(response.body)).toEqual(response.body);
});
