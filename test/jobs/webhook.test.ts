import type { LookupAddress } from 'node:dns';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startTestHttpServer, type TestHttpServer, type TestReply } from '../../dev/testHttpServer.js';
import { dispatch, type DispatchMessage } from '../../lib/drain/dispatch.js';
import { PermanentError } from '../../lib/errors.js';
import type { HostResolver } from '../../lib/jobs/addressLookup.js';
import type { HttpAnswer, HttpTransport } from '../../lib/jobs/http.js';
import type { JobType } from '../../lib/jobs/types.js';
import { webhook as webhookJobType, type WebhookJobTypeOptions } from '../../lib/jobs/webhook.js';
import { WEBHOOK_SIGNATURE_HEADER, verifyWebhookSignature } from '../../lib/jobs/webhookSignature.js';
import { issuesFromZod } from '../../lib/validation.js';

const secret = 'whsec_test';
const nowMs = Date.parse('2026-01-01T00:00:00.000Z');

function webhook(overrides: Partial<WebhookJobTypeOptions> = {}) {
  return webhookJobType({ allowedHosts: '127.0.0.1, *.hooks.test', signingSecret: secret, now: () => nowMs, ...overrides });
}

function message(payload: unknown): DispatchMessage {
  return { id: '0190a000-0000-7000-8000-0000000000aa', queue: 'webhooks', type: 'webhook', payload, attempts: 2, maxAttempts: 5 };
}

/** A fake transport's answer with no body. */
function answer(status: number): HttpAnswer {
  return { status, headers: {}, body: (async function* () {})(), discard: async () => {} };
}

let server: TestHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function deliver(reply: TestReply, payload: Record<string, unknown> = {}, type: JobType = webhook()) {
  server = await startTestHttpServer(reply);
  return dispatch(message({ url: `${server.url}/hook`, body: { event: 'order.paid', id: 42 }, ...payload }), type, { timeoutMs: 2_000 });
}

describe('webhook payload (checked at enqueue)', () => {
  const { payload } = webhook();

  it('accepts an allowed URL and defaults the method to POST', () => {
    expect(payload.parse({ url: 'https://a.hooks.test/in', body: [1, 'two', null] })).toEqual({
      url: 'https://a.hooks.test/in',
      body: [1, 'two', null],
      method: 'POST',
    });
  });

  it.each([
    ['the metadata endpoint', 'http://169.254.169.254/latest/meta-data/', /not in the allow-list/],
    ['localhost when not listed', 'http://localhost:8080/', /not in the allow-list/],
    ['credentials in the URL', 'https://user:pw@a.hooks.test/', /credentials/],
    ['a non-http scheme', 'file:///etc/passwd', /only http and https/],
    ['a relative URL', '/hook', /not a valid URL/],
  ])('refuses %s', (_label, url, reason) => {
    const result = payload.safeParse({ url, body: {} });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['url']);
    expect(result.error?.issues[0]?.message).toMatch(reason);
  });

  it('refuses everything when no host is allowed', () => {
    const result = webhook({ allowedHosts: undefined }).payload.safeParse({ url: 'http://127.0.0.1/', body: {} });
    expect(result.error?.issues[0]?.message).toMatch(/allow-list is empty/);
  });

  it.each([
    ['a missing body', { body: undefined }],
    ['a body that is not JSON', { body: () => 1 }],
    ['an unknown field', { retries: 3 }],
    ['GET', { method: 'GET' }],
    ['a reserved header', { headers: { 'Content-Length': '1' } }],
    ['a signature header of its own', { headers: { 'X-Aurora-Queue-Signature': 'forged' } }],
    ['a header value with a line break', { headers: { 'x-a': 'a\r\nx-b: b' } }],
    ['an invalid header name', { headers: { 'bad name': 'x' } }],
    ['more than 20 headers', { headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, 'v'])) }],
  ])('refuses %s', (_label, overrides) => {
    expect(payload.safeParse({ url: 'https://a.hooks.test/', body: {}, ...overrides }).success).toBe(false);
  });

  it('judges a body as z.json() does, refusing it with the same issue', () => {
    let deep: unknown = 1;
    for (let n = 0; n < 100; n++) deep = { n: deep };
    const bodies: unknown[] = [
      { a: [1, 'two', null, true, -0, 1e300], b: { c: {} } },
      Object.create(null),
      JSON.parse('{"__proto__":{"a":1},"b":2}'),
      deep,
      undefined,
      () => 1,
      { a: [1, undefined] },
      // eslint-disable-next-line no-sparse-arrays -- an array with a hole is one of the bodies under test
      [1, , 2],
      NaN,
      Infinity,
      new Date(0),
      10n,
      { [Symbol('s')]: 1 },
      new Map(),
    ];
    for (const body of bodies) {
      const ours = payload.safeParse({ url: 'https://a.hooks.test/', body });
      const zods = z.json().safeParse(body);
      expect(ours.success).toBe(zods.success);
      if (ours.success && zods.success) expect(JSON.stringify(ours.data.body)).toBe(JSON.stringify(zods.data));
      else expect(issuesFromZod(ours.error!)).toEqual([{ field: 'body', rule: 'invalid_union', message: 'Invalid input' }]);
    }
  });

  it('gives the same verdict on a URL checked again', () => {
    for (let n = 0; n < 3; n++) {
      expect(payload.safeParse({ url: 'http://localhost:8080/', body: {} }).success).toBe(false);
      expect(payload.safeParse({ url: 'https://a.hooks.test/', body: {} }).success).toBe(true);
    }
  });

  it.each([
    [
      'a refused URL',
      { url: 'http://localhost:8080/' },
      { field: 'url', rule: 'allowed_url', message: expect.stringMatching(/^URL refused: .*not in the allow-list/) },
    ],
    ['an invalid header name', { headers: { 'X Foo': 'x' } }, { field: 'headers.X Foo', rule: 'header_name', message: 'not a valid header name' }],
    [
      'a reserved header',
      { headers: { 'Content-Length': '1' } },
      { field: 'headers.Content-Length', rule: 'reserved_header', message: 'header is set by the queue and cannot be overridden' },
    ],
    [
      'a header value with a line break',
      { headers: { 'x-a': 'a\r\nx-b: b' } },
      { field: 'headers.x-a', rule: 'header_value', message: 'header values cannot contain line breaks' },
    ],
    [
      'more than 20 headers',
      { headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`x-h${i}`, 'v'])) },
      { field: 'headers', rule: 'too_big', message: 'at most 20 headers' },
    ],
  ])('names the field and the rule of %s in words', (_label, overrides, issue) => {
    const result = payload.safeParse({ url: 'https://a.hooks.test/', body: {}, ...overrides });
    expect(issuesFromZod(result.error!)).toEqual([issue]);
  });
});

describe('webhook delivery', () => {
  it('sends the body as signed JSON with the message id and attempt, and is done on 2xx', async () => {
    const outcome = await deliver({ status: 200, body: 'ok' }, { headers: { Authorization: 'Bearer abc' }, method: 'PUT' });
    expect(outcome).toEqual({ kind: 'done' });

    const [request] = server!.requests;
    expect(request?.method).toBe('PUT');
    expect(request?.path).toBe('/hook');
    expect(request?.body).toBe('{"event":"order.paid","id":42}');
    expect(request?.headers).toMatchObject({
      'content-type': 'application/json',
      authorization: 'Bearer abc',
      'x-aurora-queue-message-id': '0190a000-0000-7000-8000-0000000000aa',
      'x-aurora-queue-attempt': '2',
      'user-agent': 'aurora-queue-webhook/1',
    });
    const signature = request?.headers[WEBHOOK_SIGNATURE_HEADER] as string;
    expect(signature).toMatch(/^t=1767225600,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ secret, header: signature, body: request!.body, nowSeconds: nowMs / 1_000 })).toBe(true);
    expect(verifyWebhookSignature({ secret: 'wrong', header: signature, body: request!.body, nowSeconds: nowMs / 1_000 })).toBe(false);
  });

  it('retries on 500', async () => {
    const outcome = await deliver({ status: 500, body: 'oops' });
    expect(outcome).toEqual({ kind: 'retry', error: expect.stringMatching(/^RetryableError: webhook http:\/\/127\.0\.0\.1:\d+ answered 500: oops$/) });
  });

  it('retries on 429, honouring Retry-After in seconds', async () => {
    expect(await deliver({ status: 429, headers: { 'retry-after': '30' } })).toMatchObject({ kind: 'retry', retryAfterMs: 30_000 });
  });

  it('retries on 503, honouring Retry-After as an HTTP-date', async () => {
    const at = new Date(Date.now() + 3_600_000).toUTCString();
    const outcome = await deliver({ status: 503, headers: { 'retry-after': at } });
    expect(outcome.kind).toBe('retry');
    const retryAfterMs = (outcome as { retryAfterMs?: number }).retryAfterMs ?? 0;
    expect(retryAfterMs).toBeGreaterThan(3_500_000);
    expect(retryAfterMs).toBeLessThanOrEqual(3_600_000);
  });

  it('is dead on 400 and on 410', async () => {
    expect(await deliver({ status: 400, body: 'bad' })).toMatchObject({ kind: 'dead', error: expect.stringMatching(/answered 400: bad$/) });
    await server?.close();
    expect(await deliver({ status: 410 })).toMatchObject({ kind: 'dead' });
  });

  it('never puts the URL path or query in the error', async () => {
    server = await startTestHttpServer({ status: 500 });
    const outcome = await dispatch(message({ url: `${server.url}/hook/sekrit?token=sekrit`, body: {} }), webhook(), {
      timeoutMs: 2_000,
    });
    expect(outcome.kind).toBe('retry');
    expect((outcome as { error: string }).error).not.toContain('sekrit');
  });

  it('abandons a receiver that hangs, aborting the request', async () => {
    const outcome = await deliver('hang', {}, webhook({ timeoutMs: 100 }));
    expect(outcome).toEqual({ kind: 'retry', error: 'timed out after 100 ms' });
    expect(server!.requests).toHaveLength(1);
  });

  it('retries on a network error', async () => {
    const closed = await startTestHttpServer({ status: 200 });
    await closed.close();
    const outcome = await dispatch(message({ url: `${closed.url}/hook`, body: {} }), webhook(), { timeoutMs: 2_000 });
    expect(outcome).toMatchObject({ kind: 'retry', error: expect.stringContaining('ECONNREFUSED') });
  });

  it('is dead at dispatch when the host was removed from the allow-list after enqueue', async () => {
    const enqueued = { url: 'https://old.partner.test/hook', body: {} };
    expect(webhookJobType({ allowedHosts: 'old.partner.test', signingSecret: secret }).payload.safeParse(enqueued).success).toBe(true);
    const outcome = await dispatch(message(enqueued), webhook(), { timeoutMs: 2_000 });
    expect(outcome).toEqual({ kind: 'dead', error: 'payload does not match the "webhook" schema: url: allowed_url' });
  });

  it('refuses a disallowed URL in the handler too, without sending', async () => {
    let called = false;
    const type = webhook({ transport: async () => ((called = true), answer(204)) });
    const context = {
      id: 'm',
      queue: 'q',
      type: 'webhook',
      attempt: 1,
      maxAttempts: 1,
      signal: new AbortController().signal,
      progress: () => {},
      extendLease: async () => {},
    };
    for (const url of ['http://169.254.169.254/', 'http://localhost/', 'http://u:p@127.0.0.1/']) {
      await expect(type.handle({ url, body: {}, method: 'POST' }, context)).rejects.toThrow(PermanentError);
    }
    expect(called).toBe(false);
  });

  it('retries, without sending, while no signing secret is configured', async () => {
    server = await startTestHttpServer({ status: 200 });
    const type = webhook({ signingSecret: undefined }) as JobType;
    const outcome = await dispatch(message({ url: server.url, body: {} }), type, { timeoutMs: 2_000 });
    expect(outcome).toEqual({ kind: 'retry', error: 'RetryableError: webhook signing secret is not configured (WEBHOOK_SIGNING_SECRET)' });
    expect(server.requests).toHaveLength(0);
  });

  it('uses the injected transport', async () => {
    const seen: string[] = [];
    const type = webhook({ transport: async (request) => (seen.push(request.url), answer(202)) });
    expect(await dispatch(message({ url: 'https://a.hooks.test/x', body: 1 }), type as JobType, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    expect(seen).toEqual(['https://a.hooks.test/x']);
  });
});

/** A resolver answering every name with `addresses`, recording the names it was asked. */
function resolveTo(...addresses: string[]): HostResolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => (
    calls.push(hostname),
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  );
  return Object.assign(resolve, { calls });
}

describe('webhook addresses (DNS rebinding)', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['169.254.169.254', 'cloud metadata'],
    ['::1', 'loopback'],
    ['fc00::', 'private'],
  ])('is dead, sending nothing, when an allowed name resolves to %s (%s)', async (address, reason) => {
    server = await startTestHttpServer({ status: 204 });
    const url = `http://a.hooks.test:${new URL(server.url).port}`;
    const type = webhook({ resolve: resolveTo(address), allowPrivateAddresses: false }) as JobType;
    const outcome = await dispatch(message({ url: `${url}/hook/sekrit?token=sekrit`, body: {} }), type, { timeoutMs: 2_000 });
    expect(outcome).toEqual({
      kind: 'dead',
      error: `PermanentError: request to webhook ${url} refused: a.hooks.test resolves to ${address} (${reason}), not a public address`,
    });
    expect(server.requests).toHaveLength(0);
  });

  it('delivers to a name that resolves to public addresses, connecting to the address it checked', async () => {
    const connectedTo: unknown[] = [];
    // Stands in for net.connect: resolves through the request's lookup and "connects" to its answer.
    const transport: HttpTransport = (request) =>
      new Promise((resolve, reject) => {
        request.lookup!(new URL(request.url).hostname, { all: true }, (error, addresses) => {
          if (error) return reject(error);
          connectedTo.push(addresses);
          resolve(answer(204));
        });
      });
    const type = webhook({ resolve: resolveTo('93.184.216.34'), allowPrivateAddresses: false, transport }) as JobType;
    expect(await dispatch(message({ url: 'https://a.hooks.test/in', body: {} }), type, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    expect(connectedTo).toEqual([[{ address: '93.184.216.34', family: 4 }]]);
  });

  it('trusts an entry written as an IP literal: delivers to 127.0.0.1 over the network, resolving nothing', async () => {
    server = await startTestHttpServer({ status: 204 });
    const resolve = resolveTo('10.9.9.9');
    const type = webhook({ allowedHosts: '127.0.0.1', resolve, allowPrivateAddresses: false }) as JobType;
    expect(await dispatch(message({ url: `${server.url}/hook`, body: { n: 1 } }), type, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    expect(server.requests.map((request) => request.body)).toEqual(['{"n":1}']);
    expect(resolve.calls).toEqual([]);
  });

  it('trusts an entry written as localhost', async () => {
    server = await startTestHttpServer({ status: 204 });
    const type = webhook({ allowedHosts: 'localhost', resolve: resolveTo('127.0.0.1'), allowPrivateAddresses: false }) as JobType;
    const url = `http://localhost:${new URL(server.url).port}/hook`;
    expect(await dispatch(message({ url, body: {} }), type, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    expect(server.requests).toHaveLength(1);
  });

  it('lets any allowed name reach a private address with allowPrivateAddresses, or WEBHOOK_ALLOW_PRIVATE_ADDRESSES=true', async () => {
    server = await startTestHttpServer({ status: 204 });
    const url = `http://a.hooks.test:${new URL(server.url).port}/hook`;
    const byOption = webhook({ resolve: resolveTo('127.0.0.1'), allowPrivateAddresses: true }) as JobType;
    expect(await dispatch(message({ url, body: {} }), byOption, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    const env = { WEBHOOK_ALLOWED_HOSTS: '*.hooks.test', WEBHOOK_SIGNING_SECRET: 's', WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' };
    const byEnv = webhookJobType({ env, resolve: resolveTo('127.0.0.1') }) as JobType;
    expect(await dispatch(message({ url, body: {} }), byEnv, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    expect(server.requests).toHaveLength(2);
    const refusing = webhookJobType({ env: { ...env, WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'false' }, resolve: resolveTo('127.0.0.1') }) as JobType;
    expect(await dispatch(message({ url, body: {} }), refusing, { timeoutMs: 2_000 })).toMatchObject({ kind: 'dead' });
  });

  it('refuses a WEBHOOK_ALLOW_PRIVATE_ADDRESSES that is neither true nor false', () => {
    expect(() => webhookJobType({ env: { WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'yes' } })).toThrow(
      'WEBHOOK_ALLOW_PRIVATE_ADDRESSES must be true or false, not "yes"',
    );
  });
});

describe('webhook() with its defaults', () => {
  it('reads the allow-list and the secret from the environment', async () => {
    server = await startTestHttpServer({ status: 200 });
    const type = webhookJobType({ env: { WEBHOOK_ALLOWED_HOSTS: 'a.test,127.0.0.1', WEBHOOK_SIGNING_SECRET: 's' } });
    expect(type.payload.safeParse({ url: 'http://b.test/', body: {} }).success).toBe(false);
    expect(await dispatch(message({ url: server.url, body: {} }), type as JobType, { timeoutMs: 2_000 })).toEqual({ kind: 'done' });
    const signature = server.requests[0]?.headers[WEBHOOK_SIGNATURE_HEADER] as string;
    expect(verifyWebhookSignature({ secret: 's', header: signature, body: '{}' })).toBe(true);
  });

  it('throws on a malformed pattern', () => {
    expect(() => webhookJobType({ env: { WEBHOOK_ALLOWED_HOSTS: 'https://a.test/' } })).toThrow(/malformed host pattern/);
  });
});
