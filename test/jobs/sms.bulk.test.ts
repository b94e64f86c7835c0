/** The sms type's bulk mode (lib/jobs/sms.ts) against the fake provider and a scripted server. */
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSmsProvider, type FakeSmsProvider, type FakeSmsProviderOptions } from '../../dev/fakeSmsProvider.js';
import { startTestHttpServer, type TestHttpServer, type TestReply } from '../../dev/testHttpServer.js';
import { dispatchBatch } from '../../lib/drain/batchDispatch.js';
import type { DispatchMessage } from '../../lib/drain/dispatch.js';
import { failuresOf, sms } from '../../lib/jobs/sms.js';
import type { BatchMessage } from '../../lib/jobs/types.js';

function message(n: number, to = `+1555000${1000 + n}`): DispatchMessage {
  return { id: `m${n}`, queue: 'sms', type: 'sms.send', payload: { to, body: `text ${n}` }, attempts: 1, maxAttempts: 5 };
}

let server: TestHttpServer | undefined;
let provider: FakeSmsProvider | undefined;
afterEach(async () => {
  await server?.close();
  await provider?.close();
  server = undefined;
  provider = undefined;
});

async function fake(options: FakeSmsProviderOptions = {}) {
  provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, ...options });
  return sms({ providerUrl: provider.url, token: undefined, bulk: { maxSize: 100 } });
}

describe('sms bulk mode', () => {
  it('is a batch type whose bulk endpoint is the send endpoint with /bulk, unless set', () => {
    const type = sms({ providerUrl: 'https://sms.test/v1/messages?account=7', bulk: { maxSize: 50, maxWaitMs: 200 } });
    expect(type.batch).toEqual({ maxSize: 50, maxWaitMs: 200 });
    expect(type.settings).toEqual(['SMS_PROVIDER_URL', 'SMS_PROVIDER_BULK_URL']);
    expect(() => sms({ providerUrl: 'https://sms.test/', bulk: { maxSize: 5, url: 'ftp://x/' } })).toThrow(/bulk URL must be http or https/);
  });

  it('sends the batch in one request, each text with its message id, and maps each result', async () => {
    server = await startTestHttpServer({
      status: 200,
      body: JSON.stringify({
        results: [
          { id: 'm1', status: 'accepted' },
          { id: 'm2', status: 'refused', error: 'landline' },
          { id: 'm3', status: 'throttled', retryAfterSeconds: 3 },
          { id: 'm4', status: 'failed', error: 'carrier down' },
        ],
      }),
    });
    const type = sms({ providerUrl: `${server.url}/send`, token: 't0k', bulk: { maxSize: 100 } });
    const outcomes = await dispatchBatch(
      [1, 2, 3, 4, 5].map((n) => message(n)),
      type,
      { timeoutMs: 2_000 },
    );
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request?.path).toBe('/send/bulk');
    expect(request?.headers).toMatchObject({ authorization: 'Bearer t0k', 'content-type': 'application/json' });
    expect(JSON.parse(request!.body)).toEqual({ messages: [1, 2, 3, 4, 5].map((n) => ({ id: `m${n}`, to: `+1555000${1000 + n}`, body: `text ${n}` })) });
    expect(Object.fromEntries(outcomes)).toEqual({
      m1: { kind: 'done' },
      m2: { kind: 'dead', error: 'SMS provider (bulk) refused the text: landline' },
      m3: { kind: 'retry', error: 'SMS provider (bulk): throttled', retryAfterMs: 3_000 },
      m4: { kind: 'retry', error: 'SMS provider (bulk): failed: carrier down' },
      // Not in the answer: sent again (keyed by id, a provider does not send it twice).
      m5: { kind: 'retry', error: 'SMS provider (bulk) gave no result for this text' },
    });
  });

  it.each<[string, TestReply, string, number | undefined]>([
    ['429 with Retry-After', { status: 429, headers: { 'retry-after': '7' }, body: 'slow down' }, 'retry', 7_000],
    ['500', { status: 500, body: 'oops' }, 'retry', undefined],
    ['an unreadable 200', { status: 200, body: 'not json' }, 'retry', undefined],
    ['400 (refused as a whole)', { status: 400, body: 'bad request' }, 'dead', undefined],
    ['401', { status: 401, body: 'who are you' }, 'dead', undefined],
  ])('maps an answer of %s to every text', async (_label, reply, kind, retryAfterMs) => {
    server = await startTestHttpServer(reply);
    const type = sms({ providerUrl: `${server.url}/send`, token: undefined, bulk: { maxSize: 100 } });
    const outcomes = await dispatchBatch([message(1), message(2)], type, { timeoutMs: 2_000 });
    for (const outcome of outcomes.values()) {
      expect(outcome).toMatchObject({ kind, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) });
    }
  });

  it('retries them all, without sending, while no provider is configured', async () => {
    const outcomes = await dispatchBatch([message(1)], sms({ providerUrl: '', env: {}, bulk: { maxSize: 10 } }), { timeoutMs: 2_000 });
    expect(outcomes.get('m1')).toMatchObject({ kind: 'retry', error: expect.stringContaining('not configured') as unknown });
  });

  it('works against the fake provider: refused numbers dead, the rest done, in one request', async () => {
    const type = await fake({ refusedNumbers: ['+15550001002'] });
    const outcomes = await dispatchBatch(
      [1, 2, 3].map((n) => message(n)),
      type,
      { timeoutMs: 2_000 },
    );
    expect([...outcomes.values()].map((o) => o.kind)).toEqual(['done', 'dead', 'done']);
    expect(provider!.stats()).toMatchObject({ received: 1, bulkRequests: 1, accepted: 2, refused: 1, duplicates: 0 });
  });

  it('retries the fake provider’s throttled and failed texts, and its throttled requests as a whole', async () => {
    const type = await fake({ failureRate: 0.3, throttleRate: 0.3, seed: 7 });
    const outcomes = await dispatchBatch(
      Array.from({ length: 50 }, (_, n) => message(n)),
      type,
      { timeoutMs: 2_000 },
    );
    const kinds = [...outcomes.values()].map((o) => o.kind);
    expect(kinds.filter((k) => k === 'retry').length).toBe(provider!.stats().failed + provider!.stats().throttled);
    expect(kinds.filter((k) => k === 'done').length).toBe(provider!.stats().accepted);
    await provider!.close();

    const throttling = await fake({ bulkThrottleRate: 1, retryAfterSeconds: 2 });
    const all = await dispatchBatch([message(1), message(2)], throttling, { timeoutMs: 2_000 });
    expect([...all.values()]).toEqual([
      expect.objectContaining({ kind: 'retry', retryAfterMs: 2_000 }),
      expect.objectContaining({ kind: 'retry', retryAfterMs: 2_000 }),
    ]);
  });
});

describe('failuresOf', () => {
  const batch: BatchMessage[] = [{ id: 'a', payload: {}, attempt: 1, maxAttempts: 3 }];

  it('throws a RetryableError for an answer of the wrong shape', () => {
    expect(() => failuresOf(batch, '{"results": [{"id": "a", "status": "maybe"}]}')).toThrow(/unreadable/);
    expect(failuresOf(batch, '{"results": [{"id": "a", "status": "accepted", "extra": 1}], "more": true}')).toEqual([]);
  });
});
