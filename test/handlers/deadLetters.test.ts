import { beforeEach, describe, expect, it } from 'vitest';
import { createDeadLettersHandler } from '../../handlers/deadLetters.js';
import { enqueue } from '../../lib/enqueue.js';
import { useStack } from '../support/stack.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger, testApp, type EventInput } from '../http/fixtures.js';

const stack = useStack();

beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
});

async function deadLetters(n: number): Promise<string[]> {
  const answers = await enqueue(
    testApp(stack.db),
    'default',
    Array.from({ length: n }, (_, i) => ({ type: 'any', payload: { i } })),
  );
  const ids = answers.map((a) => a.id);
  await stack.sql.query(`UPDATE queue_messages SET status = 'dead', attempts = 5, finished_at = created_at, last_error = 'boom' WHERE id IN (?)`, [ids]);
  return ids;
}

/** `queryStringParameters: null` is what serverless offline sends for a request without a query string. */
async function call(method: string, action: 'dead' | 'redrive', input: Partial<EventInput> = {}, queryStringParameters?: null) {
  const app = testApp(stack.db);
  const event = httpEvent({
    method,
    path: `/queues/default/${action}`,
    routeKey: `${method} /queues/{queue}/${action}`,
    pathParameters: { queue: 'default' },
    ...input,
  });
  if (queryStringParameters === null) (event as { queryStringParameters: unknown }).queryStringParameters = null;
  return parseResponse(await createDeadLettersHandler(() => app, { logger: recordingLogger() })(event, lambdaContext));
}

async function statuses(): Promise<string[]> {
  const [rows] = (await stack.sql.query('SELECT status FROM queue_messages ORDER BY id')) as any;
  return rows.map((r: any) => r.status);
}

describe('GET /queues/{queue}/dead', () => {
  it('lists a page with payloads and errors, and the cursor for the next', async () => {
    const ids = await deadLetters(3);
    const first = await call('GET', 'dead', { query: { limit: '2' } });
    expect(first.statusCode).toBe(200);
    expect(first.body.messages.map((m: any) => m.id)).toEqual(ids.slice(0, 2));
    expect(first.body.messages[0]).toMatchObject({ payload: { i: 0 }, lastError: 'boom', status: 'dead' });
    expect(first.body.next).toBe(ids[1]);
    const second = await call('GET', 'dead', { query: { limit: '2', after: first.body.next } });
    expect(second.body).toEqual({ messages: [expect.objectContaining({ id: ids[2] })] });
  });

  it.each([
    ['left out (API Gateway)', undefined],
    ['null (serverless offline)', null],
  ])('lists the first page when the query string is %s', async (_name, queryStringParameters) => {
    const ids = await deadLetters(2);
    const response = await call('GET', 'dead', {}, queryStringParameters);
    expect(response).toMatchObject({ statusCode: 200, body: { messages: [{ id: ids[0] }, { id: ids[1] }] } });
  });

  it.each([
    [{ limit: '0' }, 'limit'],
    [{ limit: '501' }, 'limit'],
    [{ limit: 'ten' }, 'limit'],
    [{ after: 'x' }, 'after'],
    [{ order: 'desc' }, 'order'],
  ])('refuses the query %j naming %s', async (query, field) => {
    const response = await call('GET', 'dead', { query });
    expect(response).toMatchObject({ statusCode: 400, body: { error: { field } } });
  });
});

describe('POST /queues/{queue}/redrive', () => {
  it('redrives the given ids', async () => {
    const ids = await deadLetters(3);
    const response = await call('POST', 'redrive', { body: { ids: [ids[1]] } });
    expect(response).toMatchObject({ statusCode: 200, body: { redriven: 1, more: false } });
    expect(await statuses()).toEqual(['dead', 'waiting', 'dead']);
  });

  it('redrives all without a body, at most `limit` per call', async () => {
    await deadLetters(3);
    expect((await call('POST', 'redrive', { body: { limit: 2 } })).body).toEqual({ redriven: 2, more: true, notCarried: 0 });
    expect((await call('POST', 'redrive')).body).toEqual({ redriven: 1, more: false, notCarried: 0 });
    expect(await statuses()).toEqual(['waiting', 'waiting', 'waiting']);
  });

  it.each([
    [{ ids: [] }, 'ids'],
    [{ ids: ['nope'] }, 'ids[0]'],
    [{ ids: Array.from({ length: 1_001 }, () => '0190a5b4-0000-7000-8000-000000000000') }, 'ids'],
    [{ limit: 0 }, 'limit'],
    [{ limit: 1_001 }, 'limit'],
    [{ all: true }, 'all'],
    [[], 'body'],
  ])('refuses %j naming %s, and changes nothing', async (body, field) => {
    await deadLetters(1);
    const response = await call('POST', 'redrive', { body });
    expect(response).toMatchObject({ statusCode: 400, body: { error: { field } } });
    expect(await statuses()).toEqual(['dead']);
  });
});

describe('DELETE /queues/{queue}/dead', () => {
  it('purges the ids given in the body', async () => {
    const ids = await deadLetters(3);
    const response = await call('DELETE', 'dead', { body: { ids: [ids[0], ids[2]] } });
    expect(response).toMatchObject({ statusCode: 200, body: { purged: 2, more: false } });
    expect(await statuses()).toEqual(['dead']);
  });

  it('purges the ids given in the query string', async () => {
    const ids = await deadLetters(3);
    const response = await call('DELETE', 'dead', { query: { ids: `${ids[0]},${ids[1]}` } });
    expect(response.body).toEqual({ purged: 2, more: false });
  });

  it('purges all only when told so, bounded by limit', async () => {
    await deadLetters(3);
    expect((await call('DELETE', 'dead', { query: { all: 'true', limit: '2' } })).body).toEqual({ purged: 2, more: true });
    expect((await call('DELETE', 'dead', { body: { all: true } })).body).toEqual({ purged: 1, more: false });
  });

  it.each([
    ['left out (API Gateway)', undefined],
    ['null (serverless offline)', null],
  ])('takes the selection from the body when the query string is %s', async (_name, queryStringParameters) => {
    const ids = await deadLetters(3);
    expect((await call('DELETE', 'dead', { body: { ids: [ids[0]] } }, queryStringParameters)).body).toEqual({ purged: 1, more: false });
    expect((await call('DELETE', 'dead', { body: { all: true } }, queryStringParameters)).body).toEqual({ purged: 2, more: false });
    expect(await statuses()).toEqual([]);
    const refused = await call('DELETE', 'dead', {}, queryStringParameters);
    expect(refused).toMatchObject({ statusCode: 400, body: { error: { field: 'ids', rule: 'required' } } });
  });

  it.each<[Partial<EventInput>, string]>([
    [{}, 'ids'],
    [{ body: {} }, 'ids'],
    [{ body: { all: false } }, 'all'],
    [{ body: { all: true, ids: ['0190a5b4-0000-7000-8000-000000000000'] } }, 'all'],
    [{ query: { all: 'yes' } }, 'all'],
    [{ query: { ids: 'a,b' } }, 'ids[0]'],
    [{ body: { all: true }, query: { all: 'true' } }, 'query'],
  ])('refuses %j naming %s, and deletes nothing', async (input, field) => {
    await deadLetters(2);
    const response = await call('DELETE', 'dead', input);
    expect(response).toMatchObject({ statusCode: 400, body: { error: { field } } });
    expect(await statuses()).toEqual(['dead', 'dead']);
  });
});

it('404 for a route this function does not serve', async () => {
  const app = testApp(stack.db);
  const event = httpEvent({ method: 'PUT', path: '/queues/default/dead', routeKey: 'PUT /queues/{queue}/dead', pathParameters: { queue: 'default' } });
  const response = parseResponse(await createDeadLettersHandler(() => app)(event, lambdaContext));
  expect(response.statusCode).toBe(404);
});
