import { beforeEach, describe, expect, it } from 'vitest';
import { createDb } from '../../lib/db/index.js';
import { ENQUEUE_LIMITS } from '../../schema/messages.js';
import { createEnqueueHandler } from '../../handlers/enqueue.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from '../support/stack.js';
import { enqueueEvent, lambdaContext, parseResponse, recordingLogger, testApp, type EventInput } from '../http/fixtures.js';

const stack = useStack();

beforeEach(async () => {
  stack.server.faults.clear();
  await stack.sql.query('DELETE FROM queue_messages');
});

const sms = { type: 'sms.send', payload: { to: '+15550001111', text: 'hello' } };

function post(body: unknown, overrides: Partial<EventInput> = {}) {
  return enqueueEvent(overrides.pathParameters?.queue ?? 'default', body, overrides);
}

function handlerFor(app = testApp(stack.db)) {
  const logger = recordingLogger();
  const metrics: { queue: string; values: unknown }[] = [];
  const handler = createEnqueueHandler(() => app, { logger, publishMetrics: (queue, values) => void metrics.push({ queue, values }) });
  return { app, logger, metrics, call: async (event: ReturnType<typeof post>) => parseResponse(await handler(event, lambdaContext)) };
}

async function count(): Promise<number> {
  const [[row]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_messages')) as any;
  return Number(row.n);
}

describe('POST /queues/{queue}/messages', () => {
  it('answers 202 with the id of a single message', async () => {
    const { call, metrics } = handlerFor();
    const response = await call(post(sms));
    expect(response.statusCode).toBe(202);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(response.body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), duplicate: false });
    expect(await count()).toBe(1);
    expect(metrics).toEqual([{ queue: 'default', values: { Enqueued: 1 } }]);
  });

  it('answers a batch with ids and duplicate flags in order', async () => {
    const { call, metrics } = handlerFor();
    const first = await call(post({ ...sms, dedupKey: 'a' }));
    const response = await call(post({ messages: [{ ...sms, dedupKey: 'b' }, { ...sms, dedupKey: 'a' }, sms] }));
    expect(response.statusCode).toBe(202);
    // A batch is answered `{ messages }` whatever its size; one message is answered `{ id, duplicate }`.
    expect(response.body).toEqual({
      messages: [
        { id: expect.stringMatching(/^[0-9a-f-]{36}$/), duplicate: false },
        { id: first.body.id, duplicate: true },
        { id: expect.stringMatching(/^[0-9a-f-]{36}$/), duplicate: false },
      ],
    });
    expect(metrics.at(-1)).toEqual({ queue: 'default', values: { Enqueued: 2 } });
    expect((await call(post({ messages: [sms] }))).body).toEqual({ messages: [{ id: expect.stringMatching(/^[0-9a-f-]{36}$/), duplicate: false }] });
  });

  it('a batch of 500 is one Data API call, and a single message one call', async () => {
    const app = testApp(stack.newDb());
    const { call } = handlerFor(app);
    const batch = Array.from({ length: 500 }, (_, i) => ({ ...sms, payload: { ...sms.payload, text: `m${i}` }, dedupKey: `d${i}` }));
    expect((await call(post({ messages: batch }))).statusCode).toBe(202);
    expect(app.db.stats.calls).toBe(1);
    expect((await call(post(sms))).statusCode).toBe(202);
    expect(app.db.stats.calls).toBe(2);
    expect(await count()).toBe(501);
  });

  it('decodes a base64 body and accepts a charset=utf-8 content type, header names in any case', async () => {
    const { call } = handlerFor();
    const body = Buffer.from(JSON.stringify({ type: 'any', payload: { text: 'héllo 🌍' } }), 'utf8').toString('base64');
    const response = await call(post(body, { isBase64Encoded: true, headers: { 'Content-Type': 'Application/JSON; charset=UTF-8' } }));
    expect(response.statusCode).toBe(202);
    const [[row]] = (await stack.sql.query('SELECT CAST(payload AS CHAR) AS text FROM queue_messages')) as any;
    expect(JSON.parse(row.text)).toEqual({ text: 'héllo 🌍' });
  });

  it('drops a UTF-8 byte order mark', async () => {
    const { call } = handlerFor();
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(sms))]).toString('base64');
    expect((await call(post(body, { isBase64Encoded: true }))).statusCode).toBe(202);
  });

  it('answers 503 with Retry-After when the Data API is unavailable, and stores nothing', async () => {
    const { call, logger } = handlerFor();
    stack.server.faults.inject({ kind: 'unavailable', count: 1 });
    const response = await call(post(sms));
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.body.error.code).toBe('unavailable');
    expect(await count()).toBe(0);
    expect(logger.entries.map((e) => e.level)).toEqual(['warn']);
  });

  it('answers 503 with a longer Retry-After while the cluster resumes', async () => {
    const db = createDb({
      endpoint: stack.endpoint,
      resourceArn: RESOURCE_ARN,
      secretArn: SECRET_ARN,
      database: stack.database,
      resumeRetry: { maxWaitMs: 0, delaysMs: [0] },
      sleep: async () => {},
    });
    const { call } = handlerFor(testApp(db));
    stack.server.faults.inject({ kind: 'resuming', count: 5 });
    const response = await call(post(sms));
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('15');
    expect(await count()).toBe(0);
  });

  it('answers 500 "internal error" for a fault it does not know, logs it, and shows nothing of it', async () => {
    const logger = recordingLogger();
    const handler = createEnqueueHandler(
      () => {
        throw new Error('SELECT secret FROM somewhere: connection string mysql://root:pw@db');
      },
      { logger, publishMetrics: () => {} },
    );
    const response = parseResponse(await handler(post(sms), lambdaContext));
    expect(response).toMatchObject({ statusCode: 500, body: { error: { code: 'internal', message: 'internal error' } } });
    expect(JSON.stringify(response)).not.toMatch(/SELECT|mysql:|at |stack/);
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]!.level).toBe('error');
  });

  it('a database error (a statement the server refused) is 500 without its SQL text', async () => {
    const app = testApp(stack.newDb());
    await stack.sql.query('ALTER TABLE queue_messages RENAME TO queue_messages_away');
    try {
      const { call, logger } = handlerFor(app);
      const response = await call(post(sms));
      expect(response.statusCode).toBe(500);
      expect(JSON.stringify(response.body)).not.toMatch(/queue_messages|INSERT|JSON_TABLE/);
      expect(logger.entries[0]!.level).toBe('error');
    } finally {
      await stack.sql.query('ALTER TABLE queue_messages_away RENAME TO queue_messages');
    }
  });
});

/*
 * Bad input, one row per case: the status, what the error must name (its field, rule, or words
 * in its message), and that no row was written.
 */
type BadCase = {
  name: string;
  event: () => ReturnType<typeof post>;
  status: number;
  field?: string;
  rule?: string;
  code?: string;
  says?: RegExp;
};

const json = (body: unknown) => () => post(body);
const one = (extra: Record<string, unknown>) => json({ ...sms, ...extra });
const bigText = (bytes: number) => 'x'.repeat(bytes);
const nested = (depth: number) => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value;
};
const base64 = (bytes: number[] | Buffer) => () => post(Buffer.from(bytes).toString('base64'), { isBase64Encoded: true });

const badCases: BadCase[] = [
  // The body itself
  { name: 'malformed JSON', event: json('{"type": "sms.send",'), status: 400, field: 'body', rule: 'json', says: /not valid JSON/ },
  { name: 'JSON followed by garbage', event: json('{} trailing'), status: 400, field: 'body', rule: 'json' },
  { name: 'empty body', event: () => post(''), status: 400, field: 'body', rule: 'required' },
  { name: 'no body at all', event: () => post(undefined), status: 400, field: 'body', rule: 'required' },
  {
    name: 'text/plain content type',
    event: () => post(sms, { headers: { 'content-type': 'text/plain' } }),
    status: 415,
    code: 'unsupported_media_type',
    says: /application\/json/,
  },
  { name: 'no content type', event: () => ({ ...post(sms), headers: {} }), status: 415, says: /got none/ },
  { name: 'form content type', event: () => post(sms, { headers: { 'content-type': 'application/x-www-form-urlencoded' } }), status: 415 },
  { name: 'JSON-like vendor type', event: () => post(sms, { headers: { 'content-type': 'application/jsonp' } }), status: 415 },
  {
    name: 'gzip content encoding',
    event: () => post(sms, { headers: { 'content-encoding': 'gzip' } }),
    status: 415,
    code: 'unsupported_media_type',
    field: 'content-encoding',
    rule: 'identity',
  },
  {
    name: 'charset other than UTF-8',
    event: () => post(sms, { headers: { 'content-type': 'application/json; charset=iso-8859-1' } }),
    status: 415,
    says: /utf-8/,
  },
  { name: 'bytes that are not UTF-8 (latin-1 é)', event: base64([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]), status: 400, field: 'body', rule: 'utf8' },
  { name: 'overlong UTF-8 encoding', event: base64([0x22, 0xc0, 0xaf, 0x22]), status: 400, rule: 'utf8' },
  { name: 'UTF-8-encoded surrogate', event: base64([0x22, 0xed, 0xa0, 0x80, 0x22]), status: 400, rule: 'utf8' },
  { name: 'a lone surrogate in a text body', event: json(`{"type":"any","payload":"\ud800"}`), status: 400, rule: 'utf8' },
  {
    name: 'body over 3 MiB',
    event: json({ messages: [{ type: 'any', payload: bigText(ENQUEUE_LIMITS.maxBodyBytes) }] }),
    status: 413,
    field: 'body',
    says: /3145728 bytes/,
  },
  { name: 'body is an array', event: json([sms]), status: 400, field: 'body', rule: 'invalid_type', says: /message object/ },
  { name: 'body is a string', event: json('"hello"'), status: 400, field: 'body', rule: 'invalid_type' },
  { name: 'body is null', event: json('null'), status: 400, field: 'body', rule: 'invalid_type' },
  // The queue
  { name: 'undeclared queue', event: () => post(sms, { pathParameters: { queue: 'nope' } }), status: 404, code: 'unknown_queue', field: 'queue', says: /nope/ },
  // A message's fields
  { name: 'missing type', event: json({ payload: sms.payload }), status: 400, field: 'type', rule: 'invalid_type' },
  { name: 'type is a number', event: one({ type: 42 }), status: 400, field: 'type', rule: 'invalid_type' },
  { name: 'type with spaces', event: one({ type: 'sms send' }), status: 400, field: 'type', says: /characters/ },
  { name: 'unknown type', event: one({ type: 'fax.send' }), status: 400, field: 'type', rule: 'unknown_type', says: /fax\.send/ },
  { name: 'missing payload', event: json({ type: 'sms.send' }), status: 400, field: 'payload', rule: 'required' },
  { name: 'payload fails its schema (phone number)', event: one({ payload: { to: '555', text: 'x' } }), status: 400, field: 'payload.to', says: /E\.164/ },
  { name: 'payload misses a field', event: one({ payload: { to: '+15550001111' } }), status: 400, field: 'payload.text', rule: 'invalid_type' },
  { name: 'payload has an unknown field', event: one({ payload: { ...sms.payload, cc: 'x' } }), status: 400, field: 'payload.cc', rule: 'unrecognized_key' },
  { name: 'payload of the wrong type', event: one({ payload: 'hello' }), status: 400, field: 'payload', rule: 'invalid_type' },
  { name: 'unknown message field', event: one({ delay: 5 }), status: 400, field: 'delay', rule: 'unrecognized_key' },
  { name: 'delaySeconds negative', event: one({ delaySeconds: -1 }), status: 400, field: 'delaySeconds', rule: 'too_small' },
  {
    name: 'delaySeconds over 365 days',
    event: one({ delaySeconds: ENQUEUE_LIMITS.maxDelaySeconds + 1 }),
    status: 400,
    field: 'delaySeconds',
    rule: 'too_big',
    says: /365 days/,
  },
  { name: 'delaySeconds fractional', event: one({ delaySeconds: 1.5 }), status: 400, field: 'delaySeconds', says: /whole number/ },
  { name: 'delaySeconds as a string', event: one({ delaySeconds: '10' }), status: 400, field: 'delaySeconds', rule: 'invalid_type' },
  { name: 'availableAt not a date', event: one({ availableAt: 'tomorrow' }), status: 400, field: 'availableAt', rule: 'invalid_format:datetime' },
  { name: 'availableAt without a time zone', event: one({ availableAt: '2026-03-02T10:00:00' }), status: 400, field: 'availableAt', says: /time zone/ },
  { name: 'availableAt over 365 days ahead', event: one({ availableAt: '2099-01-01T00:00:00Z' }), status: 400, field: 'availableAt', rule: 'too_big' },
  {
    name: 'delaySeconds and availableAt together',
    event: one({ delaySeconds: 5, availableAt: '2026-03-02T10:00:00Z' }),
    status: 400,
    field: 'availableAt',
    rule: 'exclusive',
  },
  { name: 'priority above 100', event: one({ priority: 101 }), status: 400, field: 'priority', rule: 'too_big' },
  { name: 'priority below -100', event: one({ priority: -101 }), status: 400, field: 'priority', rule: 'too_small' },
  { name: 'priority fractional', event: one({ priority: 0.5 }), status: 400, field: 'priority', rule: 'invalid_type' },
  { name: 'maxAttempts 0', event: one({ maxAttempts: 0 }), status: 400, field: 'maxAttempts', rule: 'too_small' },
  { name: 'maxAttempts above 100', event: one({ maxAttempts: 101 }), status: 400, field: 'maxAttempts', rule: 'too_big' },
  { name: 'dedupKey empty', event: one({ dedupKey: '' }), status: 400, field: 'dedupKey', rule: 'too_small', says: /empty/ },
  { name: 'dedupKey over 255 characters', event: one({ dedupKey: '🔑'.repeat(256) }), status: 400, field: 'dedupKey', rule: 'too_big', says: /255/ },
  { name: 'dedupKey ending in a space', event: one({ dedupKey: 'order-1 ' }), status: 400, field: 'dedupKey', rule: 'trailing_space', says: /space/ },
  { name: 'dedupKey not a string', event: one({ dedupKey: 12 }), status: 400, field: 'dedupKey', rule: 'invalid_type' },
  {
    name: 'dedup without a dedupKey',
    event: one({ dedup: { mode: 'debounce', seconds: 1 } }),
    status: 400,
    field: 'dedupKey',
    rule: 'required',
    says: /dedup/,
  },
  { name: 'dedup seconds 0', event: one({ dedupKey: 'k', dedup: { mode: 'throttle', seconds: 0 } }), status: 400, field: 'dedup.seconds', rule: 'too_small' },
  {
    name: 'dedup seconds over a day',
    event: one({ dedupKey: 'k', dedup: { mode: 'debounce', seconds: 86_401 } }),
    status: 400,
    field: 'dedup.seconds',
    rule: 'too_big',
    says: /1 day/,
  },
  {
    name: 'dedup of an unknown mode',
    event: one({ dedupKey: 'k', dedup: { mode: 'later', seconds: 1 } }),
    status: 400,
    field: 'dedup.mode',
    rule: 'invalid_value',
  },
  {
    name: 'debounce with a delay',
    event: one({ dedupKey: 'k', dedup: { mode: 'debounce', seconds: 1 }, delaySeconds: 5 }),
    status: 400,
    field: 'delaySeconds',
    rule: 'exclusive',
    says: /debounce/,
  },
  {
    name: 'dedupKey with a lone surrogate',
    event: json(`{"type":"any","payload":1,"dedupKey":"a\\ud800"}`),
    status: 400,
    field: 'dedupKey',
    rule: 'unicode',
    says: /Unicode/,
  },
  // Payload limits
  {
    name: 'payload over 1 MiB',
    event: one({ type: 'any', payload: bigText(ENQUEUE_LIMITS.maxPayloadBytes) }),
    status: 413,
    field: 'payload',
    rule: 'max_bytes',
    says: /1048576 bytes \(1 MiB\)/,
  },
  { name: 'payload nested too deep', event: one({ type: 'any', payload: nested(40) }), status: 400, field: 'payload', rule: 'max_depth' },
  { name: 'payload with an escaped lone surrogate', event: json(`{"type":"any","payload":{"t":"\\udc00"}}`), status: 400, field: 'payload.t', rule: 'unicode' },
  { name: 'payload number out of range', event: json('{"type":"any","payload":{"n":1e400}}'), status: 400, field: 'payload.n', rule: 'finite_number' },
  // Batches
  { name: 'empty batch', event: json({ messages: [] }), status: 400, field: 'messages', rule: 'too_small' },
  { name: 'batch over 500', event: json({ messages: Array.from({ length: 501 }, () => sms) }), status: 400, field: 'messages', rule: 'too_big', says: /500/ },
  { name: 'messages not an array', event: json({ messages: sms }), status: 400, field: 'messages', rule: 'invalid_type' },
  { name: 'batch with an unknown field', event: json({ messages: [sms], queue: 'x' }), status: 400, field: 'queue', rule: 'unrecognized_key' },
  {
    name: 'one bad message in a good batch',
    event: json({ messages: [sms, { ...sms, payload: { to: 'x', text: 'y' } }, sms] }),
    status: 400,
    field: 'messages[1].payload.to',
  },
  { name: 'a message of a batch is not an object', event: json({ messages: [sms, 'hello'] }), status: 400, field: 'messages[1]', rule: 'invalid_type' },
  {
    name: 'one payload too large in a batch',
    event: json({ messages: [sms, { type: 'any', payload: bigText(1_100_000) }] }),
    status: 413,
    field: 'messages[1].payload',
  },
  {
    name: 'batch too large for one Data API request',
    event: json({ messages: Array.from({ length: 60 }, () => ({ type: 'any', payload: '"'.repeat(15_000) })) }),
    status: 413,
    rule: 'max_request_bytes',
    says: /4 MiB/,
  },
];

describe('bad input', () => {
  it('has at least 40 cases', () => expect(badCases.length).toBeGreaterThanOrEqual(40));

  const { call } = { call: (event: ReturnType<typeof post>) => handlerFor().call(event) };

  it.each(badCases)('$name → $status', async (bad) => {
    const response = await call(bad.event());
    expect(response.statusCode).toBe(bad.status);
    expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
    const error = response.body.error;
    expect(error.message).toEqual(expect.any(String));
    if (bad.code) expect(error.code).toBe(bad.code);
    if (bad.field) expect(error.field).toBe(bad.field);
    if (bad.rule) expect(error.rule).toBe(bad.rule);
    if (bad.says) expect(error.message).toMatch(bad.says);
    if (bad.field) expect(error.message).toContain(bad.field);
    // Every rule is named in words; zod's catch-all "custom" says nothing to a caller.
    expect(error.rule).not.toBe('custom');
    expect(JSON.stringify(error)).not.toMatch(/\n\s+at |INSERT|queue_messages/);
    expect(await count()).toBe(0);
  });
});
