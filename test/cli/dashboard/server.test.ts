/** The dashboard's HTTP side on the real stack: what it serves, what it refuses, what it never says. */
import { request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { recurringViews } from '../../../cli/commands/recurring.js';
import { startDashboard, type Dashboard } from '../../../cli/dashboard/server.js';
import { freePort } from '../../../dev/ports.js';
import { createApp, type App } from '../../../lib/app.js';
import { ManualClock } from '../../../lib/clock.js';
import { createDb, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../../../lib/db/index.js';
import { enqueue } from '../../../lib/enqueue.js';
import { anyType, testApp, testQueues } from '../../http/fixtures.js';
import { defineConfig } from '../../../lib/config.js';
import { useStack } from '../../support/stack.js';

const stack = useStack();
let app: App;
let dashboard: Dashboard;
const logged: string[] = [];

beforeAll(async () => {
  app = testApp(stack.db);
  dashboard = await startDashboard({ app, port: 0, target: 'the test stack', log: (line) => logged.push(line) });
});
afterEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
  await stack.sql.query('DELETE FROM queue_state');
});
afterAll(async () => {
  await dashboard?.close();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: any;
}

/** Plain node:http, so a test controls every header (Host and Origin included). */
function call(on: Dashboard, method: string, path: string, options: { headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const length = options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) };
    const req = httpRequest({ host: '127.0.0.1', port: on.port, method, path, headers: { ...length, ...options.headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode!, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const jsonCall = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  call(dashboard, method, path, { headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });

async function deadLetters(n: number, queue = 'default'): Promise<string[]> {
  const ids = (
    await enqueue(
      app,
      queue,
      Array.from({ length: n }, (_, i) => ({ type: 'any', payload: { i } })),
    )
  ).map((a) => a.id);
  await stack.sql.query(`UPDATE queue_messages SET status = 'dead', attempts = 5, finished_at = '2026-03-01 11:59:30', last_error = 'boom' WHERE id IN (?)`, [
    ids,
  ]);
  return ids;
}

describe('the page', () => {
  it('is three files served from memory, with a CSP that allows its own script only', async () => {
    const page = await call(dashboard, 'GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'; script-src 'self'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.text).toContain('<script type="module" src="/app.js"></script>');
    // Nothing from elsewhere: every src and href is this server's own.
    expect([...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1])).toEqual(['/favicon.svg', '/style.css', '/app.js']);
    for (const [path, type] of [
      ['/app.js', 'text/javascript; charset=utf-8'],
      ['/style.css', 'text/css; charset=utf-8'],
    ]) {
      const file = await call(dashboard, 'GET', path!);
      expect(file.status, path).toBe(200);
      expect(file.headers['content-type']).toBe(type);
    }
    const script = (await call(dashboard, 'GET', '/app.js')).text;
    expect(script).not.toMatch(/\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML\(|document\.write\(|eval\(|new Function/);
    expect(script.replaceAll("'http://www.w3.org/2000/svg'", '')).not.toMatch(/https?:\/\//);
  });

  it('serves nothing else', async () => {
    for (const path of ['/index.html', '/static/app.js', '/../server.ts', '/%2e%2e/server.ts', '/api']) {
      const answer = await call(dashboard, 'GET', path);
      expect(answer.status, path).toBe(404);
      expect(answer.json).toMatchObject({ error: { code: 'unknown_route' } });
    }
  });
});

describe('GET /api/overview', () => {
  it('gives every declared queue: counts, oldest due, paused, limits, and the last hour per minute', async () => {
    await deadLetters(2);
    await enqueue(app, 'orders', [{ type: 'any', payload: 1 }]);
    await jsonCall('POST', '/api/queues/sms/pause', {});
    const overview = (await call(dashboard, 'GET', '/api/overview')).json;
    expect(overview).toMatchObject({
      target: 'the test stack',
      refreshSeconds: 5,
      at: '2026-03-01T12:00:00.000Z',
      throughputSince: '2026-03-01T11:01:00.000Z',
    });
    expect(overview.queues.map((q: any) => q.queue)).toEqual(testQueues.map((q) => q.name));
    const [defaults, sms, orders] = overview.queues;
    expect(defaults).toMatchObject({ counts: { dead: 2, waiting: 0 }, paused: false });
    expect(sms).toMatchObject({
      paused: true,
      limits: {
        maxAttempts: 3,
        batchSize: 100,
        concurrency: null,
        ratePerSecond: null,
        drainConcurrency: 50,
        drainRatePerSecond: null,
        fifo: false,
        types: null,
        leaseSeconds: 60,
      },
    });
    expect(sms).not.toHaveProperty('groups');
    expect(sms).not.toHaveProperty('permitsInUse');
    expect(orders.counts.waiting).toBe(1);
    expect(defaults.throughput.dead).toHaveLength(60);
    expect(defaults.throughput.dead[58]).toBe(2);
    expect(defaults.throughput.dead.reduce((a: number, b: number) => a + b)).toBe(2);
  });
});

describe('FIFO queues and queue-wide limits in /api/overview', () => {
  it('gives the limits queue-wide and per run, whether FIFO, the groups (blocked ones too) and the permits in use', async () => {
    const config = defineConfig({
      queues: [{ name: 'ledger', fifo: true, types: ['any'], concurrency: 4, ratePerSecond: 2.5, drainConcurrency: 2, drainRatePerSecond: 1 }],
      jobTypes: [anyType],
    });
    const fifoApp = createApp({ config, clock: new ManualClock('2026-03-01T12:00:00.000Z'), env: {}, db: stack.newDb() });
    await enqueue(
      fifoApp,
      'ledger',
      ['acct-1', 'acct-1', 'acct-2'].map((groupKey, i) => ({ type: 'any', payload: i, groupKey })),
    );
    await stack.sql.query("UPDATE queue_messages SET status = 'retrying', attempts = 1 WHERE queue = 'ledger' ORDER BY id LIMIT 1");
    const other = await startDashboard({ app: fifoApp, port: 0, target: 'fifo', log: () => {} });
    try {
      const [ledger] = (await call(other, 'GET', '/api/overview')).json.queues;
      expect(ledger).toMatchObject({
        queue: 'ledger',
        limits: { concurrency: 4, ratePerSecond: 2.5, drainConcurrency: 2, drainRatePerSecond: 1, fifo: true, types: ['any'] },
        groups: { live: 2, inFlight: 0, blocked: 1 },
        permitsInUse: { run: 0, rate: 0 },
      });
    } finally {
      await other.close();
    }
  });
});

describe('groups of a queue with per-group limits', () => {
  const config = defineConfig({
    queues: [{ name: 'tenants', groups: { concurrency: 1, ratePerSecond: 5, fair: true } }, { name: 'plain' }],
    jobTypes: [anyType],
  });
  let grouped: App;
  let other: Dashboard;
  const KEY = 'acct/eu 1 ü';
  const path = (action: string, key = KEY) => `/api/queues/tenants/groups/${encodeURIComponent(key)}/${action}`;
  const send = (method: string, to: string, body?: unknown) =>
    call(other, method, to, { headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });

  beforeAll(async () => {
    grouped = createApp({ config, clock: new ManualClock('2026-03-01T12:00:00.000Z'), env: {}, db: stack.newDb() });
    other = await startDashboard({ app: grouped, port: 0, target: 'groups', log: () => {} });
  });
  afterEach(async () => {
    await stack.sql.query('DELETE FROM queue_groups');
  });
  afterAll(async () => {
    await other?.close();
  });

  it('gives the declared per-group limits in /api/overview, null for a queue without', async () => {
    const [tenants, plain] = (await call(other, 'GET', '/api/overview')).json.queues;
    expect(tenants.limits.groups).toEqual({ concurrency: 1, ratePerSecond: 5, fair: true });
    expect(plain.limits.groups).toBeNull();
    expect((await call(dashboard, 'GET', '/api/overview')).json.queues.map((q: any) => q.limits.groups)).toEqual(testQueues.map(() => null));
  });

  it('lists the groups, sets a group’s limits, pauses and resumes it as the API does, the key percent-encoded', async () => {
    await enqueue(grouped, 'tenants', [...[1, 2, 3].map((i) => ({ type: 'any', payload: i, groupKey: KEY })), { type: 'any', payload: 4, groupKey: 'small' }]);
    // One of KEY's messages in flight: at its concurrency of 1 with more waiting, it is blocked.
    await stack.sql.query(
      "UPDATE queue_messages SET status = 'running', lease_token = 'lease-dash', available_at = '2026-03-01 13:00:00' WHERE group_key = ? ORDER BY id LIMIT 1",
      [KEY],
    );
    const listed = (await call(other, 'GET', '/api/queues/tenants/groups?limit=5')).json;
    expect(listed).toMatchObject({
      queue: 'tenants',
      declared: { concurrency: 1, ratePerSecond: 5, fair: true },
      top: [
        { groupKey: KEY, unfinished: 3, running: 1, state: 'blocked' },
        { groupKey: 'small', unfinished: 1, running: 0, state: 'idle' },
      ],
      set: [],
    });
    expect((await send('PUT', path('limits'), { concurrency: 2, ratePerSecond: null })).json).toMatchObject({
      groupKey: KEY,
      concurrency: 2,
      ratePerSecond: 5,
      overridden: { concurrency: true, ratePerSecond: false },
      state: 'running',
    });
    expect((await send('POST', path('pause'), {})).json).toMatchObject({ groupKey: KEY, paused: true, state: 'paused' });
    expect((await call(other, 'GET', '/api/queues/tenants/groups')).json.set).toMatchObject([{ groupKey: KEY, paused: true, concurrency: 2 }]);
    expect((await send('POST', path('resume'))).json).toMatchObject({ groupKey: KEY, paused: false });
    const [rows] = (await stack.sql.query('SELECT group_key, paused, concurrency FROM queue_groups')) as any;
    expect(rows).toEqual([{ group_key: KEY, paused: 0, concurrency: 2 }]);
  });

  it('refuse what cannot be, naming the field and the rule, and change nothing', async () => {
    const cases: [Promise<Answer>, number, Record<string, unknown>][] = [
      [call(other, 'GET', '/api/queues/plain/groups'), 400, { field: 'queue', rule: 'not_grouped' }],
      [send('POST', '/api/queues/plain/groups/a/pause', {}), 400, { field: 'queue', rule: 'not_grouped' }],
      [send('POST', '/api/queues/nope/groups/a/pause', {}), 404, { code: 'unknown_queue' }],
      [send('POST', path('pause', 'ends '), {}), 400, { field: 'groupKey', rule: 'trailing_space' }],
      [send('POST', path('pause', 'x'.repeat(129)), {}), 400, { field: 'groupKey', rule: 'too_big' }],
      [send('POST', '/api/queues/tenants/groups/%E0%A4%A/pause', {}), 400, { field: 'groupKey', rule: 'percent_encoding' }],
      [send('POST', path('pause'), { please: true }), 400, { field: 'please', rule: 'unrecognized_key' }],
      [send('PUT', path('limits'), {}), 400, { field: 'body', rule: 'required' }],
      [send('PUT', path('limits')), 400, { field: 'body', rule: 'required' }],
      [send('PUT', path('limits'), { concurrency: 0 }), 400, { field: 'concurrency', rule: 'too_small' }],
      [send('PUT', path('limits'), { ratePerSecond: 'fast' }), 400, { field: 'ratePerSecond', rule: 'invalid_type' }],
      [call(other, 'GET', '/api/queues/tenants/groups?limit=0'), 400, { field: 'limit' }],
      [send('GET', path('limits')), 405, { code: 'method_not_allowed' }],
      [call(other, 'POST', path('pause'), { headers: { 'content-type': 'text/plain' }, body: '{}' }), 415, { code: 'unsupported_media_type' }],
    ];
    for (const [answer, status, error] of cases) {
      const { status: got, json } = await answer;
      expect({ status: got, error: json.error }).toMatchObject({ status, error });
    }
    const [rows] = (await stack.sql.query('SELECT * FROM queue_groups')) as any;
    expect(rows).toEqual([]);
  });
});

describe('recurring entries in /api/overview', () => {
  it("lists the config's entries with their last and next slot, as `aurora-queue recurring` computes them", async () => {
    const clock = new ManualClock('2026-03-01T12:00:00.000Z');
    const config = defineConfig({
      queues: testQueues,
      jobTypes: [anyType],
      recurring: [
        {
          name: 'nightly-report',
          schedule: 'cron(30 2 * * ? *)',
          timezone: 'Europe/Paris',
          queue: 'orders',
          type: 'any',
          payload: { report: 'daily' },
          catchUp: 3,
        },
        { name: 'heartbeat', schedule: 'rate(5 minutes)', queue: 'default', type: 'any', payload: 1 },
        { name: 'new-year-2025', schedule: 'cron(0 0 1 1 ? 2025)', queue: 'default', type: 'any', payload: 2 },
      ],
    });
    const withRecurring = createApp({ config, clock, env: {}, db: stack.newDb() });
    const other = await startDashboard({ app: withRecurring, port: 0, target: 'recurring', log: () => {} });
    try {
      const overview = (await call(other, 'GET', '/api/overview')).json;
      expect(overview.recurring).toEqual([
        // 02:30 in Paris is 01:30 UTC in March (before summer time).
        {
          name: 'nightly-report',
          schedule: 'cron(30 2 * * ? *)',
          timezone: 'Europe/Paris',
          queue: 'orders',
          type: 'any',
          catchUp: 3,
          lastSlot: '2026-03-01T01:30:00.000Z',
          lastSlotDedupKey: 'recurring:nightly-report:2026-03-01T01:30:00.000Z',
          nextSlot: '2026-03-02T01:30:00.000Z',
        },
        // A slot at the very instant is the last one, not the next.
        {
          name: 'heartbeat',
          schedule: 'rate(5 minutes)',
          timezone: 'UTC',
          queue: 'default',
          type: 'any',
          catchUp: 1,
          lastSlot: '2026-03-01T12:00:00.000Z',
          lastSlotDedupKey: 'recurring:heartbeat:2026-03-01T12:00:00.000Z',
          nextSlot: '2026-03-01T12:05:00.000Z',
        },
        {
          name: 'new-year-2025',
          schedule: 'cron(0 0 1 1 ? 2025)',
          timezone: 'UTC',
          queue: 'default',
          type: 'any',
          catchUp: 1,
          lastSlot: '2025-01-01T00:00:00.000Z',
          lastSlotDedupKey: 'recurring:new-year-2025:2025-01-01T00:00:00.000Z',
          nextSlot: null,
        },
      ]);
      // The next slot is the CLI's own.
      expect(overview.recurring.map((r: any) => ({ name: r.name, nextSlot: r.nextSlot }))).toEqual(
        recurringViews(withRecurring.recurring.plans, clock.now()).map((v) => ({ name: v.name, nextSlot: v.nextSlot })),
      );
    } finally {
      await other.close();
    }
    // A config without entries gives an empty list.
    expect((await call(dashboard, 'GET', '/api/overview')).json.recurring).toEqual([]);
  });
});

describe('actions', () => {
  it('redrive and purge as the API does, and answer how many changed', async () => {
    const ids = await deadLetters(3);
    expect((await jsonCall('POST', '/api/queues/default/redrive', { ids: [ids[0]!.toUpperCase()] })).json).toEqual({ redriven: 1, more: false, notCarried: 0 });
    const purge = await jsonCall('DELETE', '/api/queues/default/dead', { ids: [ids[1]] });
    expect(purge.json, purge.text).toEqual({ purged: 1, more: false });
    const page = (await call(dashboard, 'GET', '/api/queues/default/dead?limit=10')).json;
    expect(page.messages.map((m: any) => m.id)).toEqual([ids[2]]);
    expect(page.messages[0]).toMatchObject({ lastError: 'boom', payload: { i: 2 } });
    expect((await jsonCall('POST', '/api/queues/default/redrive', {})).json).toEqual({ redriven: 1, more: false, notCarried: 0 });
    expect((await call(dashboard, 'GET', `/api/messages/${ids[0]}`)).json).toMatchObject({ id: ids[0], status: 'waiting', attempts: 0, payload: { i: 0 } });
  });

  it('cancel a message as the API does: a waiting one at once, a running one asked to stop', async () => {
    const [waiting, running] = await enqueue(app, 'orders', [
      { type: 'any', payload: 1 },
      { type: 'any', payload: 2 },
    ]);
    await stack.sql.query(`UPDATE queue_messages SET status = 'running', lease_token = 'lease-dash' WHERE id = ?`, [running!.id]);
    expect((await jsonCall('DELETE', `/api/messages/${waiting!.id}`)).json).toMatchObject({ id: waiting!.id, status: 'cancelled' });
    expect((await jsonCall('DELETE', `/api/messages/${running!.id}`)).json).toMatchObject({ id: running!.id, status: 'running', cancelRequested: true });
    expect(await jsonCall('DELETE', `/api/messages/${waiting!.id}`)).toMatchObject({ status: 409 });
  });

  it('pause and resume', async () => {
    expect((await jsonCall('POST', '/api/queues/orders/pause', {})).json).toEqual({ queue: 'orders', paused: true });
    expect((await jsonCall('POST', '/api/queues/orders/resume')).json).toEqual({ queue: 'orders', paused: false });
  });

  it('look a message up by dedup key, percent-encoded', async () => {
    const [answer] = await enqueue(app, 'orders', [{ type: 'any', payload: { x: 1 }, dedupKey: 'a/b ü&c' }]);
    const found = await call(dashboard, 'GET', `/api/queues/orders/messages?dedupKey=${encodeURIComponent('a/b ü&c')}`);
    expect(found.json).toMatchObject({ id: answer!.id, dedupKey: 'a/b ü&c', payload: { x: 1 } });
  });
});

describe('refusals', () => {
  it('validate with the API schemas and name the field and rule', async () => {
    const cases: [Promise<Answer>, number, Record<string, unknown>][] = [
      [call(dashboard, 'GET', '/api/queues/default/dead?limit=0'), 400, { code: 'invalid_input', field: 'limit' }],
      [call(dashboard, 'GET', '/api/queues/default/dead?after=x'), 400, { field: 'after' }],
      [call(dashboard, 'GET', '/api/queues/default/dead?bogus=1'), 400, { field: 'bogus', rule: 'unrecognized_key' }],
      [jsonCall('POST', '/api/queues/default/redrive', { ids: ['nope'] }), 400, { field: 'ids[0]' }],
      [jsonCall('POST', '/api/queues/default/redrive', { limit: 1_001 }), 400, { field: 'limit' }],
      [jsonCall('DELETE', '/api/queues/default/dead', {}), 400, { field: 'ids', rule: 'required' }],
      [jsonCall('DELETE', '/api/queues/default/dead'), 400, { field: 'ids', rule: 'required' }],
      [jsonCall('POST', '/api/queues/default/pause', { please: true }), 400, { field: 'please', rule: 'unrecognized_key' }],
      [call(dashboard, 'GET', '/api/messages/not-an-id'), 400, { field: 'id' }],
      [call(dashboard, 'GET', '/api/queues/default/messages'), 400, { field: 'dedupKey' }],
      [call(dashboard, 'GET', '/api/queues/default/messages?dedupKey=ends%20'), 400, { field: 'dedupKey', rule: 'trailing_space' }],
      [call(dashboard, 'GET', '/api/queues/%E0%A4%A/dead'), 400, { field: 'queue', rule: 'percent_encoding' }],
      [call(dashboard, 'GET', '/api/queues/nope/dead'), 404, { code: 'unknown_queue' }],
      [jsonCall('POST', '/api/queues/nope/pause', {}), 404, { code: 'unknown_queue' }],
      [call(dashboard, 'GET', '/api/messages/0190a5b4-0000-7000-8000-000000000000'), 404, { code: 'unknown_message' }],
      [jsonCall('PUT', '/api/overview', {}), 405, { code: 'method_not_allowed' }],
      [
        call(dashboard, 'POST', '/api/queues/default/redrive', { headers: { 'content-type': 'application/json' }, body: '{"ids": [' }),
        400,
        { field: 'body', rule: 'json' },
      ],
      [
        call(dashboard, 'POST', '/api/queues/default/redrive', { headers: { 'content-type': 'application/json' }, body: 'x'.repeat(70_000) }),
        413,
        { code: 'too_large' },
      ],
    ];
    for (const [answer, status, error] of cases) {
      const { status: got, json } = await answer;
      expect({ status: got, error: json.error }).toMatchObject({ status, error });
    }
  });

  it('take changes only as JSON from its own origin, and only on its own host name', async () => {
    const [id] = await deadLetters(1);
    const body = JSON.stringify({ ids: [id] });
    // A form post from another page: no JSON content type.
    const form = await call(dashboard, 'POST', '/api/queues/default/redrive', { headers: { 'content-type': 'text/plain' }, body });
    expect(form).toMatchObject({ status: 415, json: { error: { code: 'unsupported_media_type' } } });
    const pause = await call(dashboard, 'POST', '/api/queues/default/pause');
    expect(pause.status).toBe(415);
    const foreign = await call(dashboard, 'POST', '/api/queues/default/redrive', {
      headers: { 'content-type': 'application/json', origin: 'https://evil.example' },
      body,
    });
    expect(foreign).toMatchObject({ status: 403, json: { error: { code: 'forbidden' } } });
    // DNS rebinding: a name that resolves here, but is not this server's.
    const rebound = await call(dashboard, 'GET', '/api/overview', { headers: { host: `evil.example:${dashboard.port}` } });
    expect(rebound.status).toBe(403);
    expect((await call(dashboard, 'GET', '/', { headers: { host: `evil.example:${dashboard.port}` } })).status).toBe(403);
    const [[row]] = (await stack.sql.query('SELECT status FROM queue_messages WHERE id = ?', [id])) as any;
    expect(row.status).toBe('dead');
    expect((await call(dashboard, 'GET', '/api/overview', { headers: { host: `localhost:${dashboard.port}` } })).status).toBe(200);
    const own = await call(dashboard, 'POST', '/api/queues/default/redrive', {
      headers: { 'content-type': 'application/json', origin: `http://127.0.0.1:${dashboard.port}` },
      body,
    });
    expect(own.json).toEqual({ redriven: 1, more: false, notCarried: 0 });
  });

  it('never show SQL, driver text or a stack: faults are 500 or 503, the details go to the log', async () => {
    const config = defineConfig({ queues: testQueues, jobTypes: [anyType] });
    // A database without the schema: the statement fails with the table's name in the driver's text.
    const noSchema = createApp({
      config,
      env: {},
      db: createDb({ endpoint: stack.endpoint, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: 'mysql' }),
    });
    // No Data API at all.
    const down = createApp({
      config,
      env: {},
      db: createDb({
        endpoint: `http://127.0.0.1:${await freePort()}`,
        resourceArn: LOCAL_RESOURCE_ARN,
        secretArn: LOCAL_SECRET_ARN,
        database: 'x',
        unavailableRetry: { delaysMs: [] },
      }),
    });
    for (const [faulty, status] of [
      [noSchema, 500],
      [down, 503],
    ] as const) {
      const lines: string[] = [];
      const other = await startDashboard({ app: faulty, port: 0, target: 'faulty', log: (line) => lines.push(line) });
      try {
        for (const path of ['/api/overview', '/api/queues/default/dead']) {
          const answer = await call(other, 'GET', path);
          expect(answer.status, path).toBe(status);
          expect(Object.keys(answer.json)).toEqual(['error']);
          expect(answer.text).not.toMatch(/queue_messages|SELECT|DatabaseError|ECONNREFUSED|\bat \S+:\d+/);
        }
        expect(lines.length).toBeGreaterThan(0);
        expect(lines.join('\n')).toContain('/api/overview');
      } finally {
        await other.close();
      }
    }
  });
});
