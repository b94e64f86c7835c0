/**
 * The team's own files: queue.config.ts and the example type in jobs/, through the same path a
 * deployment takes (the enqueue handler, then a drain run), on the real stack.
 */
import { describe, expect, it } from 'vitest';
import { createEnqueueHandler } from '../handlers/enqueue.js';
import { orderConfirm } from '../jobs/orderConfirm.js';
import { createApp } from '../lib/app.js';
import { drain } from '../lib/drain/drain.js';
import { enqueue } from '../lib/index.js';
import config from '../queue.config.js';
import { enqueueEvent, lambdaContext, parseResponse, recordingLogger } from './http/fixtures.js';
import { useStack } from './support/stack.js';

const stack = useStack();
const app = () => createApp({ config, db: stack.db, env: {} });

function post(queue: string, body: unknown) {
  return enqueueEvent(queue, body);
}

describe('queue.config.ts', () => {
  it('declares the shipped queues and job types, the example type included', () => {
    expect(config.queues.map((q) => q.name)).toEqual(['default', 'sms', 'webhooks', 'orders']);
    expect(config.jobTypes.map((t) => t.type)).toEqual(['webhook', 'sms.send', 'order.confirm']);
  });
});

describe('jobs/orderConfirm.ts', () => {
  it('is accepted over HTTP, dispatched and acknowledged', async () => {
    const handler = createEnqueueHandler(app, { logger: recordingLogger(), publishMetrics: () => {} });
    const response = parseResponse(
      await handler(post('orders', { type: 'order.confirm', payload: { orderId: 'A-1001', email: 'ada@example.com', totalCents: 4_250 } }), lambdaContext),
    );
    expect(response.statusCode).toBe(202);

    const summary = await drain(app(), { queue: 'orders', remainingTimeMs: () => 60_000 });
    expect(summary.done).toBe(1);
    const [[row]] = (await stack.sql.query('SELECT status FROM queue_messages WHERE id = ?', [response.body.id])) as any;
    expect(row.status).toBe('done');
  });

  it('refuses a payload that breaks its schema with a 400 naming the field', async () => {
    const handler = createEnqueueHandler(app, { logger: recordingLogger(), publishMetrics: () => {} });
    const response = parseResponse(
      await handler(post('orders', { type: 'order.confirm', payload: { orderId: 'A-1002', email: 'not-an-address', totalCents: 1 } }), lambdaContext),
    );
    expect(response.statusCode).toBe(400);
    expect(response.body.error).toMatchObject({ field: 'payload.email', message: 'payload.email: must be an e-mail address' });
  });

  it('dead-letters at once on its permanent error', async () => {
    const outcome = await orderConfirm.handle({ orderId: 'test-cancelled-1', email: 'a@example.com', totalCents: 0 }, {} as never).catch((e: Error) => e);
    expect(outcome).toMatchObject({ name: 'PermanentError' });
  });

  it('types an enqueue by the job type named, at compile time', async () => {
    const typed = app();
    await enqueue(typed, 'orders', [{ type: 'order.confirm', payload: { orderId: 'A-1003', email: 'b@example.com', totalCents: 10 } }]);
    const wrongTotal = { orderId: 'A-1004', email: 'b@example.com', totalCents: '10' };
    // @ts-expect-error: totalCents is a number in the order.confirm schema
    await expect(enqueue(typed, 'orders', [{ type: 'order.confirm', payload: wrongTotal }])).rejects.toThrow(/payload.totalCents/);
    // @ts-expect-error: no job type of that name in queue.config.ts
    await expect(enqueue(typed, 'orders', [{ type: 'order.confrim', payload: {} }])).rejects.toThrow(/order.confrim/);
  });
});
