/**
 * The 64 KB row limit at its edge: a message with every field at its maximum (a payload at the
 * inline cap, 255-character dedup key and 128-character group key of 4-byte characters, the
 * longest queue and type names, a clipped 2,000-byte error) is read through every read path, with
 * the local Data API's row limit on, and no row comes back at 60,000 bytes or more.
 */
import { expect, it, vi } from 'vitest';
import { createApi } from '../cli/dashboard/api.js';
import { createDeadLettersHandler } from '../handlers/deadLetters.js';
import { createGetMessageHandler } from '../handlers/getMessage.js';
import { createApp } from '../lib/app.js';
import { systemClock } from '../lib/clock.js';
import { defineConfig } from '../lib/config.js';
import { drain } from '../lib/drain/drain.js';
import { enqueue } from '../lib/enqueue.js';
import { LAST_ERROR_MAX_BYTES } from '../lib/sql/message.js';
import { ENQUEUE_LIMITS, OUTPUT_LIMITS } from '../schema/messages.js';
import { jobType, plenty } from './drain/helpers.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger } from './http/fixtures.js';
import { useStack } from './support/stack.js';

/** Every row the local server sends, measured as its row limit measures it. */
const sent = vi.hoisted(() => ({ rows: [] as number[] }));
vi.mock('../dev/data-api/results.js', async (importOriginal) => {
  const results = await importOriginal<typeof import('../dev/data-api/results.js')>();
  return {
    ...results,
    executeResponse: (result: Parameters<typeof results.executeResponse>[0], options: Parameters<typeof results.executeResponse>[1]) => {
      for (const row of result.rows ?? []) sent.rows.push(results.rowBytes(row));
      return results.executeResponse(result, options);
    },
  };
});

const stack = useStack();

const ROW_BUDGET = 60_000;
const QUEUE = 'q'.repeat(64);
const TYPE = 't'.repeat(128);

/** The sizes of the rows `read` made the server send. */
async function rowsOf(read: () => Promise<unknown>): Promise<number[]> {
  sent.rows = [];
  await read();
  return sent.rows;
}

it('keeps every row the product reads under 60,000 bytes with every field at its maximum', async () => {
  const app = createApp({
    config: defineConfig({
      queues: [{ name: QUEUE, fifo: true, maxAttempts: 2, backoff: { baseMs: 1, maxMs: 1 } }],
      jobTypes: [
        jobType(TYPE, async (_payload, context) => {
          // The largest progress (512 bytes of JSON text), read with the message by GET /messages/{id}.
          context.progress({ p: 'x'.repeat(OUTPUT_LIMITS.maxProgressBytes - 8) });
          throw new Error('x'.repeat(10_000));
        }),
      ],
    }),
    db: stack.newDb(),
    env: {},
    clock: systemClock,
  });
  // A JSON string has no separators: its text is what MySQL returns, exactly the inline cap.
  const payload = '😀'.repeat(13_000) + 'x'.repeat(ENQUEUE_LIMITS.maxInlinePayloadBytes - 2 - 4 * 13_000);
  expect(Buffer.byteLength(JSON.stringify(payload))).toBe(ENQUEUE_LIMITS.maxInlinePayloadBytes);
  const dedupKey = '😀'.repeat(ENQUEUE_LIMITS.maxDedupKeyChars);
  const groupKey = '😀'.repeat(ENQUEUE_LIMITS.maxGroupKeyChars);
  const [{ id }] = (await enqueue(app, QUEUE, [{ type: TYPE, payload, dedupKey, groupKey }])) as [{ id: string }, ...unknown[]];

  // Claimed, failed, claimed again (the claim's read), failed again: dead with a clipped error.
  const drained = await rowsOf(() => drain(app, { queue: QUEUE, remainingTimeMs: plenty }));
  const [[stored]] = (await stack.sql.query(
    'SELECT status, payload_parts, LENGTH(payload) AS payload, LENGTH(last_error) AS error, LENGTH(dedup_key) AS dedup, LENGTH(group_key) AS grp FROM queue_messages WHERE id = ?',
    [id],
  )) as any;
  expect(stored).toEqual({
    status: 'dead',
    payload_parts: 0,
    payload: ENQUEUE_LIMITS.maxInlinePayloadBytes,
    error: LAST_ERROR_MAX_BYTES,
    dedup: 1_020,
    grp: 512,
  });
  // Written without the drain waiting for it.
  await expect
    .poll(async () => ((await stack.sql.query('SELECT LENGTH(progress) AS n FROM queue_message_outputs WHERE message_id = ?', [id])) as any)[0][0]?.n)
    .toBe(OUTPUT_LIMITS.maxProgressBytes);
  // The claim's read carries the payload, the keys and the names.
  expect(Math.max(...drained)).toBeGreaterThan(ENQUEUE_LIMITS.maxInlinePayloadBytes + 512);
  expect(Math.max(...drained)).toBeLessThan(ROW_BUDGET);

  // Every read that returns the whole message, through the API's handlers and the dashboard's.
  const dashboard = createApi({ app, target: 'test', refreshSeconds: 5 });
  const dashboardGet = (path: string, query = '') => dashboard({ method: 'GET', path, query: new URLSearchParams(query), body: undefined });
  const reads: Record<string, () => Promise<{ statusCode?: number }>> = {
    'GET /messages/{id}': async () =>
      parseResponse(
        await createGetMessageHandler(() => app, { logger: recordingLogger() })(
          httpEvent({ method: 'GET', path: `/messages/${id}`, routeKey: 'GET /messages/{id}', pathParameters: { id } }),
          lambdaContext,
        ),
      ),
    'GET /queues/{queue}/dead': async () =>
      parseResponse(
        await createDeadLettersHandler(() => app, { logger: recordingLogger() })(
          httpEvent({ method: 'GET', path: `/queues/${QUEUE}/dead`, routeKey: 'GET /queues/{queue}/dead', pathParameters: { queue: QUEUE } }),
          lambdaContext,
        ),
      ),
    'dashboard: a message': () => dashboardGet(`/api/messages/${id}`),
    'dashboard: by dedup key': () => dashboardGet(`/api/queues/${QUEUE}/messages`, `dedupKey=${encodeURIComponent(dedupKey)}`),
    'dashboard: dead letters': () => dashboardGet(`/api/queues/${QUEUE}/dead`),
    'dashboard: overview': () => dashboardGet('/api/overview'),
  };
  const widest: Record<string, number> = {};
  for (const [name, read] of Object.entries(reads)) {
    let status: number | undefined;
    const rows = await rowsOf(async () => void (status = (await read()).statusCode));
    expect([name, status]).toEqual([name, 200]);
    widest[name] = Math.max(...rows);
  }
  for (const [name, bytes] of Object.entries(widest)) expect([name, bytes < ROW_BUDGET]).toEqual([name, true]);
  // The reads of the whole row are right at the edge: 59,2xx bytes (schema/messages.ts).
  for (const name of ['GET /queues/{queue}/dead', 'dashboard: a message', 'dashboard: dead letters']) {
    expect([name, widest[name]! > ROW_BUDGET - 1_000]).toEqual([name, true]);
  }
});
