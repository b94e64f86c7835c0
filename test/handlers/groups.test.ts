import { beforeEach, describe, expect, it } from 'vitest';
import { createGroupsHandler } from '../../handlers/groups.js';
import { createApp } from '../../lib/app.js';
import { ManualClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import { enqueue } from '../../lib/enqueue.js';
import type { InvokeDrain } from '../../lib/wake.js';
import { groupList, groupView, type GroupView } from '../../schema/groups.js';
import { useStack } from '../support/stack.js';
import { anyType, httpEvent, lambdaContext, parseResponse, recordingLogger, type EventInput } from '../http/fixtures.js';

const stack = useStack();

const config = defineConfig({
  queues: [{ name: 'tenants', groups: { concurrency: 2, fair: true } }, { name: 'plain' }],
  jobTypes: [anyType],
});

function groupedApp(invokeDrain?: InvokeDrain) {
  return createApp({ config, db: stack.db, clock: new ManualClock('2026-03-01T12:00:00.000Z'), env: {}, invokeDrain });
}

beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
  await stack.sql.query('DELETE FROM queue_groups');
});

/**
 * A request as API Gateway hands it over: the path as sent (the key percent-encoded, `rawPath`)
 * and the key decoded in `pathParameters`.
 */
function groupEvent(method: string, queue: string, groupKey: string | undefined, action: string, input: Partial<EventInput> = {}) {
  const path = groupKey === undefined ? `/queues/${queue}/groups` : `/queues/${queue}/groups/${encodeURIComponent(groupKey)}/${action}`;
  const template = groupKey === undefined ? '/queues/{queue}/groups' : `/queues/{queue}/groups/{groupKey}/${action}`;
  return httpEvent({
    method,
    path,
    routeKey: `${method} ${template}`,
    pathParameters: groupKey === undefined ? { queue } : { queue, groupKey },
    ...input,
  });
}

async function call(event: ReturnType<typeof httpEvent>, app = groupedApp()) {
  return parseResponse(await createGroupsHandler(() => app, { logger: recordingLogger() })(event, lambdaContext));
}

const list = (queue: string, query?: Record<string, string>) => call(groupEvent('GET', queue, undefined, '', query ? { query } : {}));
const setLimits = (queue: string, groupKey: string, body: unknown) => call(groupEvent('PUT', queue, groupKey, 'limits', body === undefined ? {} : { body }));
const pause = (queue: string, groupKey: string) => call(groupEvent('POST', queue, groupKey, 'pause'));
const resume = (queue: string, groupKey: string) => call(groupEvent('POST', queue, groupKey, 'resume'));

async function storedGroups(): Promise<{ key: string; paused: number; concurrency: number | null }[]> {
  const [rows] = (await stack.sql.query('SELECT group_key AS `key`, paused, concurrency FROM queue_groups ORDER BY group_key')) as any;
  return rows.map((r: any) => ({ key: r.key, paused: Number(r.paused), concurrency: r.concurrency }));
}

describe('GET /queues/{queue}/groups', () => {
  it('lists the groups with the most backlog and those paused or set, as the API document describes them', async () => {
    await enqueue(groupedApp(), 'tenants', [
      ...Array.from({ length: 3 }, (_, i) => ({ type: 'any' as const, payload: i, groupKey: 'big' })),
      { type: 'any' as const, payload: 'x', groupKey: 'small' },
    ]);
    await pause('tenants', 'quiet');
    const answer = await list('tenants');
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toMatchObject({
      queue: 'tenants',
      declared: { concurrency: 2, ratePerSecond: null, fair: true },
      top: [
        { groupKey: 'big', unfinished: 3, state: 'idle' },
        { groupKey: 'small', unfinished: 1, state: 'idle' },
      ],
      set: [{ groupKey: 'quiet', paused: true, state: 'paused' }],
    });
    // The document's schemas are strict: an answer with a field they do not name fails here.
    expect(groupList.parse(answer.body)).toEqual(answer.body);
    expect((await list('tenants', { limit: '1' })).body.top.map((g: GroupView) => g.groupKey)).toEqual(['big']);
  });
});

describe('PUT /queues/{queue}/groups/{groupKey}/limits', () => {
  it("sets a group's own limits, and null gives it the queue's back", async () => {
    const set = await setLimits('tenants', 'acme', { concurrency: 5, ratePerSecond: 2.5 });
    expect(set).toMatchObject({
      statusCode: 200,
      body: { groupKey: 'acme', concurrency: 5, ratePerSecond: 2.5, overridden: { concurrency: true, ratePerSecond: true } },
    });
    expect(groupView.parse(set.body)).toEqual(set.body);
    expect((await setLimits('tenants', 'acme', { concurrency: null })).body).toMatchObject({
      concurrency: 2,
      ratePerSecond: 2.5,
      overridden: { concurrency: false, ratePerSecond: true },
    });
    expect(await storedGroups()).toEqual([{ key: 'acme', paused: 0, concurrency: null }]);
  });
});

describe('POST /queues/{queue}/groups/{groupKey}/pause and /resume', () => {
  it('pauses and resumes, the route deciding which; both idempotent', async () => {
    expect(await pause('tenants', 'acme')).toMatchObject({ statusCode: 200, body: { groupKey: 'acme', paused: true, state: 'paused' } });
    expect((await pause('tenants', 'acme')).body).toMatchObject({ paused: true });
    expect(await storedGroups()).toEqual([{ key: 'acme', paused: 1, concurrency: null }]);
    expect(await resume('tenants', 'acme')).toMatchObject({ statusCode: 200, body: { groupKey: 'acme', paused: false, state: 'idle' } });
    expect(await storedGroups()).toEqual([{ key: 'acme', paused: 0, concurrency: null }]);
  });

  it.each([
    ['a "/"', 'tenant/eu/42'],
    ['a "%" and what looks like an escape', '100%41 off'],
    ['non-ASCII and an emoji', 'Zürich ☕ 😀'],
    ['"?" and "#"', 'a?b#c'],
    ['128 characters', '😀'.repeat(128)],
  ])('takes a key with %s as API Gateway decodes it, never decoding it twice', async (_name, groupKey) => {
    const answer = await pause('tenants', groupKey);
    expect(answer.statusCode, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body.groupKey).toBe(groupKey);
    expect(await storedGroups()).toEqual([{ key: groupKey, paused: 1, concurrency: null }]);
    expect((await list('tenants')).body.set).toMatchObject([{ groupKey, paused: true }]);
  });

  it('finds the route from the path when the event has no route key', async () => {
    const event = groupEvent('POST', 'tenants', 'a/b', 'pause');
    expect(event.rawPath).toBe('/queues/tenants/groups/a%2Fb/pause');
    const answer = await call({ ...event, routeKey: '$default' });
    expect(answer).toMatchObject({ statusCode: 200, body: { groupKey: 'a/b', paused: true } });
    const limits = await call({ ...groupEvent('PUT', 'tenants', 'a/b', 'limits', { body: { concurrency: 1 } }), routeKey: '$default' });
    expect(limits).toMatchObject({ statusCode: 200, body: { groupKey: 'a/b', concurrency: 1 } });
  });

  it('wakes a drain when a group is resumed or its limits set, not when it is paused', async () => {
    const woken: string[] = [];
    const app = groupedApp(async (queue) => void woken.push(queue));
    await call(groupEvent('POST', 'tenants', 'acme', 'pause'), app);
    expect(woken).toEqual([]);
    await call(groupEvent('POST', 'tenants', 'acme', 'resume'), app);
    expect(woken).toEqual(['tenants']);
    // A second later (one wake a second per queue, whatever the process).
    (app.clock as ManualClock).advance(2_000);
    await call(groupEvent('PUT', 'tenants', 'acme', 'limits', { body: { concurrency: 3 } }), app);
    expect(woken).toEqual(['tenants', 'tenants']);
  });
});

describe('refusals', () => {
  it('name the field and the rule, and write nothing', async () => {
    const cases: [Promise<{ statusCode: number; body: any }>, number, Record<string, unknown>][] = [
      [pause('nope', 'a'), 404, { code: 'unknown_queue', field: 'queue' }],
      [list('nope'), 404, { code: 'unknown_queue' }],
      [pause('plain', 'a'), 400, { field: 'queue', rule: 'not_grouped' }],
      [list('plain'), 400, { field: 'queue', rule: 'not_grouped' }],
      [setLimits('plain', 'a', { concurrency: 1 }), 400, { field: 'queue', rule: 'not_grouped' }],
      [pause('tenants', 'ends '), 400, { field: 'groupKey', rule: 'trailing_space' }],
      [pause('tenants', 'x'.repeat(129)), 400, { field: 'groupKey', rule: 'too_big' }],
      [pause('tenants', ''), 400, { field: 'groupKey', rule: 'too_small' }],
      [setLimits('tenants', 'a', {}), 400, { field: 'body', rule: 'required' }],
      [setLimits('tenants', 'a', undefined), 400, { field: 'body', rule: 'required' }],
      [setLimits('tenants', 'a', '{"concurrency": '), 400, { field: 'body', rule: 'json' }],
      [setLimits('tenants', 'a', { concurrency: 0 }), 400, { field: 'concurrency', rule: 'too_small' }],
      [setLimits('tenants', 'a', { concurrency: 1.5 }), 400, { field: 'concurrency', rule: 'invalid_type' }],
      [setLimits('tenants', 'a', { ratePerSecond: -1 }), 400, { field: 'ratePerSecond', rule: 'too_small' }],
      [setLimits('tenants', 'a', { ratePerSecond: 1_001 }), 400, { field: 'ratePerSecond', rule: 'too_big' }],
      [setLimits('tenants', 'a', { ratePerSecond: '5' }), 400, { field: 'ratePerSecond', rule: 'invalid_type' }],
      [setLimits('tenants', 'a', { concurrency: 1, paused: true }), 400, { field: 'paused', rule: 'unrecognized_key' }],
      [list('tenants', { limit: '0' }), 400, { field: 'limit' }],
      [list('tenants', { limit: '101' }), 400, { field: 'limit' }],
      [list('tenants', { limit: 'ten' }), 400, { field: 'limit' }],
      [list('tenants', { bogus: '1' }), 400, { field: 'bogus', rule: 'unrecognized_key' }],
    ];
    for (const [answer, status, error] of cases) {
      const { statusCode, body } = await answer;
      expect({ status: statusCode, error: body.error }).toMatchObject({ status, error });
    }
    expect(await storedGroups()).toEqual([]);
  });

  it('refuses a body that is not JSON', async () => {
    const answer = await call(groupEvent('PUT', 'tenants', 'a', 'limits', { body: '{"concurrency":1}', headers: { 'content-type': 'text/plain' } }));
    expect(answer).toMatchObject({ statusCode: 415, body: { error: { code: 'unsupported_media_type' } } });
    expect(await storedGroups()).toEqual([]);
  });
});
