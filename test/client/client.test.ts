/**
 * The typed client on the real stack: direct (auto-batching, per-caller errors, the outbox) and
 * HTTP (SigV4-signed, against the real handlers behind a local server standing in for API Gateway).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createCancelMessageHandler } from '../../handlers/cancelMessage.js';
import { createEnqueueHandler } from '../../handlers/enqueue.js';
import { createGetMessageHandler } from '../../handlers/getMessage.js';
import { createGroupsHandler, ROUTE_SCHEMAS as GROUP_ROUTES } from '../../handlers/groups.js';
import { createApp } from '../../lib/app.js';
import { createQueueClient, WaitTimeoutError, type QueueClient } from '../../lib/client/index.js';
import { drain } from '../../lib/drain/drain.js';
import { defineConfig } from '../../lib/config.js';
import { ValidationError } from '../../lib/errors.js';
import { findRoute } from '../../lib/http/index.js';
import { defineJobType } from '../../lib/jobs/types.js';
import { httpEvent, lambdaContext, recordingLogger } from '../http/fixtures.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const config = defineConfig({
  queues: [{ name: 'default' }, { name: 'orders' }, { name: 'ledger', fifo: true }, { name: 'reports' }, { name: 'tenants', groups: { concurrency: 2 } }],
  jobTypes: [
    // A result type inferred from handle: { rows: number; url: string; at: Date } read back as JSON.
    defineJobType({
      type: 'report.build',
      payload: z.object({ rows: z.number().int() }),
      handle: async (payload, context) => {
        context.progress({ rows: payload.rows });
        return { rows: payload.rows, url: `s3://reports/${context.id}`, at: new Date('2026-01-01T00:00:00Z') };
      },
    }),
    defineJobType({
      type: 'order.confirm',
      payload: z.strictObject({ orderId: z.string().min(1), totalCents: z.number().int().min(0, 'must not be negative') }),
      handle: async () => {},
    }),
    defineJobType({ type: 'ping', payload: z.object({}), handle: async () => {} }),
  ],
});

beforeEach(async () => {
  stack.server.faults.clear();
  await stack.sql.query('DELETE FROM queue_messages');
});

/** The stored group keys of a queue's messages, in id (enqueue) order. */
async function groupKeys(queue: string): Promise<[string, string | null][]> {
  const [rows] = (await stack.sql.query('SELECT id, group_key FROM queue_messages WHERE queue = ? ORDER BY id', [queue])) as any;
  return rows.map((row: any) => [row.id, row.group_key]);
}

/** The stored totalCents of a queue's messages, in id order. */
async function payloadTotals(queue: string): Promise<number[]> {
  const [rows] = (await stack.sql.query('SELECT CAST(payload AS CHAR) AS payload FROM queue_messages WHERE queue = ? ORDER BY id', [queue])) as any;
  return rows.map((row: any) => JSON.parse(row.payload).totalCents);
}

async function stored(): Promise<number> {
  const [[row]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_messages')) as any;
  return Number(row.n);
}

/**
 * A report built by a real drain while the client waits for it: the result comes typed by its job
 * type; a message left waiting times out.
 */
async function waitsForResult(client: QueueClient<(typeof config.jobTypes)[number]>): Promise<void> {
  const { id } = await client.enqueue('report.build', { rows: 3 }, { queue: 'reports' });
  const before = await client.get(id);
  expect(before.status).toBe('waiting');
  expect(before).not.toHaveProperty('result');
  const waiting = client.waitFor<'report.build'>(id, { timeoutMs: 30_000 });
  const summary = await drain(createApp({ config, db: stack.newDb(), env: {} }), { queue: 'reports', remainingTimeMs: () => 600_000 });
  expect(summary.done).toBe(1);
  const view = await waiting;
  expect(view).toMatchObject({ id, type: 'report.build', status: 'done', result: { rows: 3, url: `s3://reports/${id}`, at: '2026-01-01T00:00:00.000Z' } });
  // Typed by the job type, through JSON: the Date is its text.
  const rows: number = view.result!.rows;
  const at: string = view.result!.at;
  expect([rows, at]).toEqual([3, '2026-01-01T00:00:00.000Z']);
  // @ts-expect-error: no such field in the report's result
  expect(view.result!.pages).toBeUndefined();
  // Without a type named, the view narrows by its type.
  const any = await client.get(id);
  if (any.type === 'report.build') expect(any.result?.url).toBe(`s3://reports/${id}`);
  else expect.unreachable();
  await expect.poll(async () => (await client.get(id)).progress).toEqual({ rows: 3 });

  const { id: idle } = await client.enqueue('ping', {}, { queue: 'orders', delaySeconds: 3_600 });
  await expect(client.waitFor(idle, { timeoutMs: 120 })).rejects.toBeInstanceOf(WaitTimeoutError);
}

/** A key the path must carry encoded: a "/", a space, a "%" before hex digits, non-ASCII, "?" and "#". */
const AWKWARD_KEY = 'tenant/eu 100%41 ü?#';

/**
 * A group paused, its limits set and given back, listed and resumed, with a key the path carries
 * encoded; and refusals named as the API names them.
 */
async function operatesGroups(client: QueueClient<(typeof config.jobTypes)[number]>): Promise<void> {
  await stack.sql.query('DELETE FROM queue_groups');
  await client.enqueueMany(
    [
      { type: 'ping', payload: {}, groupKey: AWKWARD_KEY },
      { type: 'ping', payload: {}, groupKey: AWKWARD_KEY },
      { type: 'ping', payload: {}, groupKey: 'small' },
    ],
    { queue: 'tenants' },
  );
  expect(await client.pauseGroup('tenants', AWKWARD_KEY)).toMatchObject({ groupKey: AWKWARD_KEY, paused: true, unfinished: 2, state: 'paused' });
  expect(await client.setGroupLimits('tenants', AWKWARD_KEY, { concurrency: 5, ratePerSecond: 1.5 })).toMatchObject({
    concurrency: 5,
    ratePerSecond: 1.5,
    overridden: { concurrency: true, ratePerSecond: true },
    paused: true,
  });
  expect(await client.setGroupLimits('tenants', AWKWARD_KEY, { concurrency: null })).toMatchObject({
    concurrency: 2,
    overridden: { concurrency: false, ratePerSecond: true },
  });
  const listed = await client.listGroups('tenants', { limit: 1 });
  expect(listed).toEqual({
    queue: 'tenants',
    declared: { concurrency: 2, ratePerSecond: null, fair: false },
    top: [expect.objectContaining({ groupKey: AWKWARD_KEY, unfinished: 2 })],
    set: [expect.objectContaining({ groupKey: AWKWARD_KEY, paused: true, ratePerSecond: 1.5 })],
  });
  expect((await client.listGroups('tenants')).top.map((g) => g.groupKey)).toEqual([AWKWARD_KEY, 'small']);
  expect(await client.resumeGroup('tenants', AWKWARD_KEY)).toMatchObject({ groupKey: AWKWARD_KEY, paused: false, state: 'idle' });
  const [rows] = (await stack.sql.query("SELECT group_key, paused FROM queue_groups WHERE queue = 'tenants'")) as any;
  expect(rows.map((r: any) => [r.group_key, Number(r.paused)])).toEqual([[AWKWARD_KEY, 0]]);

  await expect(client.pauseGroup('orders', 'a')).rejects.toMatchObject({ name: 'ValidationError', field: 'queue', rule: 'not_grouped' });
  await expect(client.listGroups('orders')).rejects.toMatchObject({ field: 'queue', rule: 'not_grouped' });
  await expect(client.pauseGroup('nope', 'a')).rejects.toMatchObject({ name: 'NotFoundError', code: 'unknown_queue' });
  await expect(client.resumeGroup('tenants', 'ends ')).rejects.toMatchObject({ field: 'groupKey', rule: 'trailing_space' });
  await expect(client.setGroupLimits('tenants', 'a', { concurrency: 0 })).rejects.toMatchObject({ field: 'concurrency', rule: 'too_small' });
  await expect(client.setGroupLimits('tenants', 'a', {})).rejects.toMatchObject({ rule: 'required' });
  await expect(client.listGroups('tenants', { limit: 101 })).rejects.toMatchObject({ field: 'limit', rule: 'too_big' });
  const [after] = (await stack.sql.query("SELECT group_key FROM queue_groups WHERE queue = 'tenants'")) as any;
  expect(after).toHaveLength(1);
}

describe('direct client', () => {
  it('waits for a message a drain runs, and gets its result typed by its job type', async () => {
    const client = createQueueClient({ transport: 'direct', config, database: stack.newDb(), lingerMs: 0, env: {} });
    await waitsForResult(client);
  });

  it('gathers concurrent single enqueues into one insert, each caller getting its own id', async () => {
    const db = stack.newDb();
    const client = createQueueClient({ transport: 'direct', config, database: db, lingerMs: 20, env: {} });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.enqueue('order.confirm', { orderId: `o-${i}`, totalCents: i }, { queue: 'orders' })),
    );
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

  it('carries a group key to a FIFO queue, in call order within one shared insert, and refuses a message without one', async () => {
    const db = stack.newDb();
    const client = createQueueClient({ transport: 'direct', config, database: db, lingerMs: 20, env: {} });
    const answers = await Promise.all(
      ['acct-1', 'acct-2', 'acct-1'].map((groupKey, i) => client.enqueue('order.confirm', { orderId: `g-${i}`, totalCents: i }, { queue: 'ledger', groupKey })),
    );
    expect(db.stats.calls).toBe(1);
    expect(await groupKeys('ledger')).toEqual(answers.map((answer, i) => [answer.id, ['acct-1', 'acct-2', 'acct-1'][i]]));
    expect(await client.get(answers[0]!.id)).toMatchObject({ groupKey: 'acct-1' });
    const many = await client.enqueueMany([{ type: 'ping', payload: {}, groupKey: 'acct-3' }], { queue: 'ledger' });
    expect((await groupKeys('ledger')).at(-1)).toEqual([many[0]!.id, 'acct-3']);
    await expect(client.enqueue('ping', {}, { queue: 'ledger' })).rejects.toMatchObject({ issues: [{ field: 'groupKey', rule: 'required' }] });
    await client.close();
  });

  it("debounces concurrent single enqueues of one key within their shared insert: the last caller's payload wins", async () => {
    const db = stack.newDb();
    const client = createQueueClient({ transport: 'direct', config, database: db, lingerMs: 20, env: {} });
    const dedup = { mode: 'debounce', seconds: 1 } as const;
    const answers = await Promise.all(
      [1, 2, 3].map((totalCents) => client.enqueue('order.confirm', { orderId: 'o-deb', totalCents }, { queue: 'orders', dedupKey: 'order-deb', dedup })),
    );
    expect(db.stats.calls).toBe(1);
    expect(answers.map((a) => a.duplicate)).toEqual([false, true, true]);
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(await payloadTotals('orders')).toEqual([3]);
    await client.close();
  });

  it("lists a queue's groups, sets a group's limits, pauses and resumes it", async () => {
    await operatesGroups(createQueueClient({ transport: 'direct', config, database: stack.newDb(), lingerMs: 0, env: {} }));
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
    const groups = createGroupsHandler(app, { logger });
    const handle = async (req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
      const url = new URL(req.url!, 'http://x');
      const path = url.pathname;
      const groupRoute = findRoute(Object.keys(GROUP_ROUTES), req.method!, path).route;
      if (groupRoute !== undefined) {
        // As API Gateway hands a request over: the path's parameters decoded, the query string parsed.
        const pathParameters = Object.fromEntries(Object.entries(groupRoute.params).map(([name, value]) => [name, decodeURIComponent(value)]));
        const query = Object.fromEntries(url.searchParams);
        const event = httpEvent({
          method: req.method!,
          path,
          routeKey: groupRoute.key,
          pathParameters,
          ...(url.search ? { query } : {}),
          ...(body ? { body } : {}),
        });
        const response: any = await groups(event, lambdaContext);
        res.writeHead(response.statusCode, { 'content-type': 'application/json' }).end(response.body);
        return;
      }
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
    };
    // A failure is an unhandled rejection: it fails the run.
    server = createServer((req, res) => void handle(req, res));
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
    const many = await c.enqueueMany([
      { type: 'ping', payload: {} },
      { type: 'ping', payload: {} },
    ]);
    expect(many).toHaveLength(2);
    expect(await c.get(answer.id)).toMatchObject({ id: answer.id, queue: 'orders', status: 'waiting' });
    expect(await c.cancel(answer.id)).toMatchObject({ status: 'cancelled' });
    expect(seen).toHaveLength(4);
    // A running message: its cancel is requested, for the drain running it.
    await stack.sql.query(`UPDATE queue_messages SET status = 'running', lease_token = 'lease-client' WHERE id = ?`, [many[0]!.id]);
    expect(await c.cancel(many[0]!.id)).toMatchObject({ id: many[0]!.id, status: 'running', cancelRequested: true });
    for (const request of seen) {
      expect(request.authorization).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/,
      );
    }
  });

  it('carries a group key through the API, one message and many', async () => {
    seen.length = 0;
    const c = client();
    const one = await c.enqueue('ping', {}, { queue: 'ledger', groupKey: 'acct-9' });
    const many = await c.enqueueMany(
      [
        { type: 'ping', payload: {}, groupKey: 'acct-9' },
        { type: 'ping', payload: {}, groupKey: 'acct-8' },
      ],
      { queue: 'ledger' },
    );
    expect(await groupKeys('ledger')).toEqual([
      [one.id, 'acct-9'],
      [many[0]!.id, 'acct-9'],
      [many[1]!.id, 'acct-8'],
    ]);
    expect(await c.get(one.id)).toMatchObject({ queue: 'ledger', groupKey: 'acct-9' });
    // A group key on a queue that is not FIFO is refused before any request, as the API would refuse it.
    seen.length = 0;
    await expect(c.enqueue('ping', {}, { queue: 'orders', groupKey: 'acct-9' })).rejects.toMatchObject({ issues: [{ field: 'groupKey', rule: 'not_fifo' }] });
    expect(seen).toEqual([]);
  });

  it('carries debounce and throttle through the API', async () => {
    const c = client();
    const debounced = { queue: 'orders', dedupKey: 'h-deb', dedup: { mode: 'debounce', seconds: 1 } } as const;
    const first = await c.enqueue('order.confirm', { orderId: 'h-deb', totalCents: 1 }, debounced);
    const second = await c.enqueue('order.confirm', { orderId: 'h-deb', totalCents: 2 }, debounced);
    expect(second).toEqual({ id: first.id, duplicate: true });
    expect(await payloadTotals('orders')).toEqual([2]);
    const throttled = { queue: 'orders', dedupKey: 'h-thr', dedup: { mode: 'throttle', seconds: 60 } } as const;
    const kept = await c.enqueue('order.confirm', { orderId: 'h-thr', totalCents: 10 }, throttled);
    expect(await c.enqueue('order.confirm', { orderId: 'h-thr', totalCents: 20 }, throttled)).toEqual({ id: kept.id, duplicate: true });
    expect(await payloadTotals('orders')).toEqual([2, 10]);
    // No key to debounce on: refused before any request.
    seen.length = 0;
    await expect(c.enqueue('ping', {}, { dedup: { mode: 'debounce', seconds: 1 } })).rejects.toMatchObject({
      issues: [{ field: 'dedupKey', rule: 'required' }],
    });
    expect(seen).toEqual([]);
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

  it('waits for a message a drain runs, and gets its result typed by its job type', async () => {
    await waitsForResult(client());
  });

  it("lists a queue's groups, sets a group's limits, pauses and resumes it, the key encoded in the path", async () => {
    seen.length = 0;
    await operatesGroups(client());
    const paths = seen.map((request) => `${request.method} ${request.url}`);
    expect(paths).toContain(`POST /queues/tenants/groups/${encodeURIComponent(AWKWARD_KEY)}/pause`);
    expect(paths).toContain(`PUT /queues/tenants/groups/tenant%2Feu%20100%2541%20%C3%BC%3F%23/limits`);
    expect(paths).toContain('GET /queues/tenants/groups?limit=1');
    // The refusals were the client's own: no request after the resume.
    expect(paths.at(-1)).toBe(`POST /queues/tenants/groups/${encodeURIComponent(AWKWARD_KEY)}/resume`);
    for (const request of seen) expect(request.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\//);
  });

  it("answers the API's refusals as typed errors", async () => {
    const error = await client()
      .get('00000000-0000-7000-8000-000000000000')
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NotFoundError' });
  });
});
