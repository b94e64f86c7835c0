import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listenOnLoopback } from '../../dev/loopback.js';
import { startTestHttpServer, type TestHttpServer } from '../../dev/testHttpServer.js';
import { PermanentError, RetryableError } from '../../lib/errors.js';
import { errorForResponse, isRetryableStatus, parseRetryAfter, sendJson, undiciTransport, type JsonRequest } from '../../lib/jobs/http.js';

const now = Date.parse('2026-01-01T00:00:00.000Z');

describe('parseRetryAfter', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
  });

  it('reads an HTTP-date relative to now, a past one as 0', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0);
  });

  it.each([null, undefined, '', 'soon', '1.5', '-5', '10s', 'Thu, 99 Foo 2026'])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });
});

describe('errorForResponse', () => {
  it.each([408, 425, 429, 500, 502, 503, 504])('%i is retryable', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
    expect(errorForResponse('x', { status })).toBeInstanceOf(RetryableError);
  });

  it.each([300, 301, 302, 307, 400, 401, 403, 404, 409, 410, 413, 422])('%i is permanent', (status) => {
    expect(errorForResponse('x', { status })).toBeInstanceOf(PermanentError);
  });

  it('carries Retry-After as retryAfterMs', () => {
    const error = errorForResponse('SMS provider', { status: 429, retryAfter: '7' }, now) as RetryableError;
    expect(error.retryAfterMs).toBe(7_000);
    expect(error.message).toBe('SMS provider answered 429');
    expect((errorForResponse('x', { status: 503 }) as RetryableError).retryAfterMs).toBeUndefined();
  });

  it('says why in the message', () => {
    expect(errorForResponse('webhook http://a', { status: 400, detail: 'bad field' }).message).toBe('webhook http://a answered 400: bad field');
    expect(errorForResponse('webhook http://a', { status: 302 }).message).toContain('redirects are not followed');
  });
});

describe('sendJson', () => {
  let server: TestHttpServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  const transport = undiciTransport();

  function request(url: string, overrides: Partial<JsonRequest> = {}): JsonRequest {
    return {
      transport,
      url,
      method: 'POST',
      headers: { 'x-extra': '1' },
      body: '{"a":1}',
      signal: AbortSignal.timeout(5_000),
      target: 'test server',
      ...overrides,
    };
  }

  it('resolves on 2xx and sends the JSON body with its headers', async () => {
    server = await startTestHttpServer({ status: 204 });
    await sendJson(request(`${server.url}/in`, { method: 'PUT' }));
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({
      method: 'PUT',
      path: '/in',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json', 'x-extra': '1' },
    });
  });

  it('keeps connections alive across requests, whatever the 2xx body', async () => {
    let connections = 0;
    const plain = createServer((incoming, response) => {
      incoming.resume();
      incoming.once('end', () => response.end('{"received":true}'));
    });
    plain.on('connection', () => connections++);
    const url = await listenOnLoopback(plain);
    try {
      for (let i = 0; i < 10; i++) await sendJson(request(url));
    } finally {
      await closeServer(plain);
    }
    // undici opens a second socket for the second request (the first is not back in its pool
    // yet); from then on both are reused. Without keep-alive this would be 10.
    expect(connections).toBeLessThanOrEqual(2);
  });

  it('throws a RetryableError with retryAfterMs on 429', async () => {
    server = await startTestHttpServer({ status: 429, headers: { 'retry-after': '3' } });
    const error = await sendJson(request(server.url)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as RetryableError).retryAfterMs).toBe(3_000);
  });

  it('throws a PermanentError on 400 with the start of the body', async () => {
    server = await startTestHttpServer({ status: 400, body: `missing\n field "to" ${'x'.repeat(5_000)}` });
    const error = await sendJson(request(server.url)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).toMatch(/^test server answered 400: missing field "to" x+…$/);
    expect((error as Error).message.length).toBeLessThan(300);
  });

  it('does not follow redirects', async () => {
    const other = await startTestHttpServer({ status: 200 });
    server = await startTestHttpServer({ status: 302, headers: { location: other.url } });
    const error = await sendJson(request(server.url)).catch((e: unknown) => e);
    await other.close();
    expect(error).toBeInstanceOf(PermanentError);
    expect(other.requests).toHaveLength(0);
  });

  it('throws a RetryableError when nothing listens', async () => {
    const closed = await startTestHttpServer({ status: 200 });
    await closed.close();
    const error = await sendJson(request(closed.url)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/^request to test server failed: Error: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });

  it('throws a RetryableError when its signal aborts a hanging request', async () => {
    server = await startTestHttpServer('hang');
    const error = await sendJson(request(server.url, { signal: AbortSignal.timeout(50) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/^request to test server aborted/);
  });
});
