/**
 * The typed client on the real stack: direct (auto-batching, per-caller errors, the outbox) and
 * HTTP (SigV4-signed, against the real handlers behind a local server standing in for API Gateway).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createCancelMessageHandler } from '../../handlers/cancelMessage.js';
import { createEnqueueHandler } from '../../handlers/enqueue.js';
import { createGetMessageHandler } from '../../handlers/getMessage.js';
import { createApp } from '../../lib/app.js';
import { createQueueClient } from '../../lib/client/index.js';
import { defineConfig } from '../../lib/config.js';
import { ValidationError } from '../../lib/errors.js';
import { defineJobType } from '../../lib/jobs/types.js';
import { httpEvent, lambdaContext, recordingLogger } from '../http/fixtures.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const config = defineConfig({
  queues: [{ name: 'default' }, { name: 'orders' }],
  jobTypes: [
    defineJobType({ type: 'order.confirm', payload: z.strictObject({ orderId: z.string().min(1), totalCents: z.number().int().min(0, 'must not be negative') }), handle: async () => {} }),
    defineJobType({ type: 'ping', payload: z.object({}), handle: async () => {} }),
  ],
});

beforeEach(async () => {
  stack.server.faults.clear();
  await stack.sql.query('DELETE FROM queue_messages');
});

async function stored(): Promise<number> {
  const [[row]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_messages')) as any;
  return Number(row.n);
}

describe('direct client', () => {
  it('gathers concurrent single enqueues into one insert, each caller getting its own id', async () => {
    const db = stack.newDb();
    const client = createQueueClient({ transport: 'direct', config, database: db, lingerMs: 20, env: {} });
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => client.enqueue('order.confirm', { orderId: `o-${i}`, totalCents: i }, { queue: 'orders' })));
    expect(new Set(answers.map((a) => a.id)).size).toBe(50);
    expect(db.stats.calls).toBe(1);
    expect(await stored()).toBe(50);
    expect((await client.get(answers[7]!.id)).status).toBe('waiting');
    await client.close();
  });

  it('fails only the caller of a bad message, before anything is sent', async () => {
    const db = stack.newDb();
    const client = createQueueClient({ transport: 'direct', config, database: db, lingerMs: 20, env: {} });
    const results = await Promise.allSettled([
      client.enqueue('order.confirm', { orderId: 'ok-1', totalCents: 1 }),
      client.enqueue('order.confirm', { orderId: 'bad', totalCents: -1 }),
      client.enqueue('order.confirm', { orderId: 'ok-2', totalCents: 2 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const error = (results[1] as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.issues).toEqual([{ field: 'payload.totalCents', rule: 'too_small', message: 'must not be negative' }]);
    expect(db.stats.calls).toBe(1);
    expect(await stored()).toBe(2);
  });

  it('fails only the callers whose messages were in a failed insert', async () => {
    const db = stack.newDb();
    const client = createQueueClient({ transport: 'direct', config, database: db, lingerMs: 20, env: {} });
    const first = await Promise.allSettled([client.enqueue('ping', {}), client.enqueue('ping', {})]);
    stack.server.faults.inject({ kind: 'internal', count: 10 });
    const failing = await Promise.allSettled([client.enqueue('ping', {}), client.enqueue('ping', {})]);
    stack.server.faults.clear();
    expect(first.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    expect(failing.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await stored()).toBe(2);
  });

  it('sends each message alone with lingerMs 0, and close() flushes what is gathered', async () => {
    const db = stack.newDb();
    const client = createQueueClient({ transport: 'direct', config, database: db, lingerMs: 0, env: {} });
    await Promise.all([client.enqueue('ping', {}), client.enqueue('ping', {})]);
    expect(db.stats.calls).toBe(2);
    const lingering = createQueueClient({ transport: 'direct', config, database: stack.newDb(), lingerMs: 60_000, env: {} });
    const pending = lingering.enqueue('ping', {});
    await lingering.close();
    await expect(pending).resolves.toMatchObject({ duplicate: false });
  });

  it('types enqueues by the config: a wrong payload or type is a compile error', async () => {
    const client = createQueueClient({ transport: 'direct', config, database: stack.newDb(), lingerMs: 0, env: {} });
    // @ts-expect-error: totalCents is a number
    await expect(client.enqueue('order.confirm', { orderId: 'x', totalCents: '1' })).rejects.toBeInstanceOf(ValidationError);
    // @ts-expect-error: no such type in the config
    await expect(client.enqueue('order.cancel', {})).rejects.toThrow(/unknown message type/);
  });
});

describe('HTTP client', () => {
  let server: Server;
  let baseUrl: string;
  const seen: { method: string; url: string; authorization: string | undefined }[] = [];

  beforeAll(async () => {
    const app = () => createApp({ config, db: stack.db, env: {} });
    const logger = recordingLogger();
    const enqueue = createEnqueueHandler(app, { logger, publishMetrics: () => {} });
    const get = createGetMessageHandler(app, { logger });
    const cancel = createCancelMessageHandler(app, { logger });
    server = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
      const path = new URL(req.url!, 'http://x').pathname;
      const queue = /^\/queues\/([^/]+)\/messages$/.exec(path)?.[1];
      const id = /^\/messages\/([^/]+)$/.exec(path)?.[1];
      const event = (route: string, pathParameters: Record<string, string>) =>
        httpEvent({ method: req.method!, path, routeKey: route, pathParameters, ...(body ? { body } : {}) });
      const response: any =
        queue && req.method === 'POST'
          ? await enqueue(event('POST /queues/{queue}/messages', { queue }), lambdaContext)
          : id && req.method === 'GET'
            ? await get(event('GET /messages/{id}', { id }), lambdaContext)
            : id && req.method === 'DELETE'
              ? await cancel(event('DELETE /messages/{id}', { id }), lambdaContext)
              : { statusCode: 404, body: '{}' };
      res.writeHead(response.statusCode, { 'content-type': 'application/json' }).end(response.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const client = () =>
    createQueueClient({ transport: 'http', config, baseUrl, region: 'eu-west-1', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' } });

  it('enqueues, reads and cancels through the API with SigV4-signed requests', async () => {
    seen.length = 0;
    const c = client();
    const answer = await c.enqueue('order.confirm', { orderId: 'h-1', totalCents: 5 }, { queue: 'orders', delaySeconds: 60 });
    expect(answer).toMatchObject({ duplicate: false });
    const many = await c.enqueueMany([{ type: 'ping', payload: {} }, { type: 'ping', payload: {} }]);
    expect(many).toHaveLength(2);
    expect(await c.get(answer.id)).toMatchObject({ id: answer.id, queue: 'orders', status: 'waiting' });
    expect(await c.cancel(answer.id)).toMatchObject({ status: 'cancelled' });
    expect(seen).toHaveLength(4);
    for (const request of seen) {
      expect(request.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
    }
  });

  it('refuses bad input before any request, with the field and rule the API names', async () => {
    seen.length = 0;
    const error = await client()
      .enqueue('order.confirm', { orderId: '', totalCents: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]).toMatchObject({ field: 'payload.orderId', rule: 'too_small' });
    expect(seen).toEqual([]);
  });

  it('answers the API\'s refusals as typed errors', async () => {
    const error = await client()
      .get('00000000-0000-7000-8000-000000000000')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NotFoundError' });
  });
});
