import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSmsProvider, type FakeSmsProvider } from '../../dev/fakeSmsProvider.js';
import { startTestHttpServer, type TestHttpServer, type TestReply } from '../../dev/testHttpServer.js';
import { dispatch, type DispatchMessage } from '../../lib/drain/dispatch.js';
import { sms } from '../../lib/jobs/sms.js';
import type { JobType } from '../../lib/jobs/types.js';

const text = { to: '+15551234567', body: 'Your code is 123456' };

function message(payload: unknown = text): DispatchMessage {
  return { id: '0190a000-0000-7000-8000-0000000000bb', queue: 'sms', type: 'sms.send', payload, attempts: 1, maxAttempts: 5 };
}

let server: TestHttpServer | undefined;
let provider: FakeSmsProvider | undefined;
afterEach(async () => {
  await server?.close();
  await provider?.close();
  server = undefined;
  provider = undefined;
});

async function send(reply: TestReply, options: { token?: string; timeoutMs?: number } = {}) {
  server = await startTestHttpServer(reply);
  const type = sms({ providerUrl: `${server.url}/send`, ...options }) as JobType;
  return dispatch(message(), type, { timeoutMs: 2_000 });
}

describe('sms.send payload', () => {
  const { payload } = sms({ providerUrl: undefined });

  it('accepts an E.164 recipient, a body and an optional sender', () => {
    expect(payload.safeParse(text).success).toBe(true);
    expect(payload.safeParse({ ...text, from: '+4915112345678' }).success).toBe(true);
    expect(payload.safeParse({ ...text, from: 'ACME Shop' }).success).toBe(true);
    expect(payload.safeParse({ ...text, body: 'x'.repeat(1_600) }).success).toBe(true);
  });

  it.each([
    ['a local number', { to: '0151 1234567' }],
    ['a number without +', { to: '15551234567' }],
    ['a number with a leading 0', { to: '+0551234567' }],
    ['a number too long', { to: '+1234567890123456' }],
    ['an empty body', { body: '' }],
    ['a body over 1600 characters', { body: 'x'.repeat(1_601) }],
    ['a sender ID over 11 characters', { from: 'ACME Shop GmbH' }],
    ['an unknown field', { priority: 'high' }],
  ])('refuses %s', (_label, overrides) => {
    expect(payload.safeParse({ ...text, ...overrides }).success).toBe(false);
  });
});

describe('sms.send delivery', () => {
  it('posts the text as JSON with the message id as idempotency key and the bearer token, done on 200', async () => {
    expect(await send({ status: 200, body: '{"id":"x"}' }, { token: 't0k' })).toEqual({ kind: 'done' });
    const [request] = server!.requests;
    expect(request?.method).toBe('POST');
    expect(request?.path).toBe('/send');
    expect(JSON.parse(request!.body)).toEqual(text);
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer t0k',
      'idempotency-key': '0190a000-0000-7000-8000-0000000000bb',
    });
  });

  it('sends no authorization header without a token', async () => {
    await send({ status: 200 });
    expect(server!.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('retries on 500 and on 429 with Retry-After', async () => {
    expect(await send({ status: 500 })).toEqual({ kind: 'retry', error: 'RetryableError: SMS provider answered 500' });
    await server?.close();
    expect(await send({ status: 429, headers: { 'retry-after': '2' } })).toEqual({
      kind: 'retry',
      error: 'RetryableError: SMS provider answered 429',
      retryAfterMs: 2_000,
    });
  });

  it('is dead on 400 and 401', async () => {
    expect(await send({ status: 400, body: 'unroutable number' })).toEqual({
      kind: 'dead',
      error: 'PermanentError: SMS provider answered 400: unroutable number',
    });
    await server?.close();
    expect(await send({ status: 401 })).toMatchObject({ kind: 'dead' });
  });

  it('abandons a provider that hangs', async () => {
    expect(await send('hang', { timeoutMs: 100 })).toEqual({ kind: 'retry', error: 'timed out after 100 ms' });
  });

  it('retries, without sending, while no provider is configured', async () => {
    const outcome = await dispatch(message(), sms({ providerUrl: '' }), { timeoutMs: 2_000 });
    expect(outcome).toEqual({ kind: 'retry', error: 'RetryableError: SMS provider is not configured (SMS_PROVIDER_URL)' });
  });

  it('refuses a provider URL that is not http(s)', () => {
    expect(() => sms({ providerUrl: 'not a url' })).toThrow(TypeError);
    expect(() => sms({ providerUrl: 'ftp://sms.test/' })).toThrow(/http or https/);
  });

  it('works against the fake provider, configured from the environment', async () => {
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, token: 'secret' });
    const type = sms({ env: { SMS_PROVIDER_URL: provider.url, SMS_PROVIDER_TOKEN: 'secret' } }) as JobType;
    expect(await dispatch(message(), type, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    expect(provider.stats().delivered.get('+15551234567')).toBe(1);

    const unauthorized = sms({ env: { SMS_PROVIDER_URL: provider.url } }) as JobType;
    expect(await dispatch(message(), unauthorized, { timeoutMs: 2_000 })).toMatchObject({ kind: 'dead' });
  });
});
