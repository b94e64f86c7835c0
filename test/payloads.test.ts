/**
 * Payloads up to 1 MiB end to end on the real stack: accepted over HTTP, stored in slices, drained
 * through the local Data API server (which keeps the documented 64 KB row and 1 MiB response limits
 * and fails any call that passes them), and delivered byte for byte by the webhook type.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHttpServer, type TestHttpServer } from '../dev/testHttpServer.js';
import { createEnqueueHandler } from '../handlers/enqueue.js';
import { createApp } from '../lib/app.js';
import { defineConfig } from '../lib/config.js';
import { drain } from '../lib/drain/drain.js';
import { enqueue } from '../lib/enqueue.js';
import { webhook } from '../lib/jobs/webhook.js';
import { getMessageDetail } from '../lib/messages.js';
import { jobType } from './drain/helpers.js';
import { enqueueEvent, lambdaContext, parseResponse, recordingLogger } from './http/fixtures.js';
import { useStack } from './support/stack.js';

const stack = useStack();
let receiver: TestHttpServer;

beforeAll(async () => {
  receiver = await startTestHttpServer({ status: 204 });
});
afterAll(async () => {
  await receiver?.close();
});

/** A JSON body whose text is just under `bytes` long, with multi-byte characters and escapes. */
function body(bytes: number, seed: number) {
  const unit = `é€😀 "quoted" \\ line\n ${seed} `;
  const unitBytes = Buffer.byteLength(JSON.stringify(unit)) - 2;
  return { seed, text: unit.repeat(Math.floor((bytes - 100) / unitBytes)) };
}

describe('1 MiB payloads', () => {
  it('are accepted over HTTP beside tiny ones, drained within the Data API limits, and delivered byte for byte', async () => {
    const app = createApp({
      config: defineConfig({ queues: [{ name: 'hooks' }], jobTypes: [webhook({ allowedHosts: '127.0.0.1', signingSecret: 's', env: {} })] }),
      db: stack.db,
      env: {},
    });
    const big = [body(1_000_000, 1), body(900_000, 2)];
    const messages = [
      ...big.map((b) => ({ type: 'webhook', payload: { url: receiver.url, body: b } })),
      ...Array.from({ length: 20 }, (_, i) => ({ type: 'webhook', payload: { url: receiver.url, body: { tiny: i } } })),
    ];
    for (const m of messages.slice(0, 2)) expect(Buffer.byteLength(JSON.stringify(m.payload))).toBeLessThanOrEqual(1_048_576);
    expect(Buffer.byteLength(JSON.stringify(messages[0]!.payload))).toBeGreaterThan(900_000);

    const handler = createEnqueueHandler(() => app, { logger: recordingLogger(), publishMetrics: () => {} });
    const response = parseResponse(await handler(enqueueEvent('hooks', { messages }), lambdaContext));
    expect(response.statusCode).toBe(202);

    const summary = await drain(app, { queue: 'hooks', remainingTimeMs: () => 60_000 });
    expect(summary).toMatchObject({ claimed: 22, done: 22, errors: [] });
    const bodies = receiver.requests.map((r) => r.body);
    for (const b of big) expect(bodies).toContain(JSON.stringify(b));
    expect(bodies.filter((text) => text.startsWith('{"tiny"'))).toHaveLength(20);
  });
});

describe('a 1 MiB payload of characters that grow the most in the response', () => {
  it("is read back whole, slice pages and all, when every 'é' counts as \\u00e9 (3 bytes per stored byte)", async () => {
    const app = createApp({
      config: defineConfig({ queues: [{ name: 'wide' }], jobTypes: [jobType('wide', async (payload) => void received.push(payload))] }),
      db: stack.db,
      env: {},
    });
    const received: unknown[] = [];
    const payload = { s: 'é'.repeat(524_000) };
    expect(Buffer.byteLength(JSON.stringify(payload))).toBeGreaterThan(1_040_000);
    const [stored] = await enqueue(app, 'wide', [{ type: 'wide', payload }]);
    // Its status with the payload, then a drain: both read the slices in pages.
    expect((await getMessageDetail(app, stored!.id)).payload).toEqual(payload);
    const summary = await drain(app, { queue: 'wide', remainingTimeMs: () => 60_000 });
    expect(summary).toMatchObject({ claimed: 1, done: 1, errors: [] });
    expect(received).toEqual([payload]);
  });
});
