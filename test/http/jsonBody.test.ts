import { gzipSync } from 'node:zlib';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { httpErrorHandler } from '../../lib/http/errorHandler.js';
import { jsonBody, header } from '../../lib/http/jsonBody.js';
import { ok, type HttpResponse } from '../../lib/http/responses.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger } from './fixtures.js';

/** Echoes the parsed body, so a test sees what the middleware left in `event.body`. */
function echo(options = { maxBytes: 100, required: true }) {
  const handler = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(jsonBody(options))
    .use(httpErrorHandler({ logger: recordingLogger() }))
    .handler(async (event) => ok({ body: (event as { body: unknown }).body ?? null }));
  return async (input: Parameters<typeof httpEvent>[0]) => parseResponse(await handler(httpEvent(input), lambdaContext));
}

const post = { method: 'POST', path: '/x' };

describe('jsonBody', () => {
  it('parses a JSON body', async () => {
    expect((await echo()({ ...post, body: { a: [1, 'é'] } })).body).toEqual({ body: { a: [1, 'é'] } });
  });

  it('decodes base64 first', async () => {
    const body = Buffer.from('{"a":"😀"}').toString('base64');
    expect((await echo()({ ...post, body, isBase64Encoded: true })).body).toEqual({ body: { a: '😀' } });
  });

  it('measures the decoded bytes against the limit, at the limit and one over', async () => {
    const at = `"${'x'.repeat(98)}"`;
    expect((await echo()({ ...post, body: at })).statusCode).toBe(200);
    const over = await echo()({ ...post, body: `"${'x'.repeat(99)}"` });
    expect(over).toMatchObject({ statusCode: 413, body: { error: { code: 'too_large', field: 'body', message: expect.stringContaining('100 bytes') } } });
    // 25 emoji are 100 bytes of UTF-8 but 50 UTF-16 units.
    expect((await echo()({ ...post, body: `"${'😀'.repeat(25)}"` })).statusCode).toBe(413);
  });

  it('leaves an absent optional body undefined, without asking for a content type', async () => {
    const response = await echo({ maxBytes: 100, required: false })({ ...post, headers: {} });
    expect(response).toMatchObject({ statusCode: 200, body: { body: null } });
  });

  it.each([
    ['application/json', 200],
    ['application/json; charset=utf-8', 200],
    ['application/json;charset="UTF8"', 200],
    ['APPLICATION/JSON', 200],
    ['application/json; charset=utf-16', 415],
    ['application/problem+json', 415],
    ['text/json', 415],
    ['', 415],
  ])('content type %j → %i', async (contentType, status) => {
    expect((await echo()({ ...post, body: '{}', headers: { 'content-type': contentType } })).statusCode).toBe(status);
  });

  it.each(['gzip', 'GZIP', 'br', 'deflate', 'gzip, identity'])('refuses a body with content-encoding %j (415, naming the header)', async (encoding) => {
    const body = encoding.startsWith('gzip') ? gzipSync('{"a":1}').toString('base64') : '{"a":1}';
    const response = await echo()({
      ...post,
      body,
      isBase64Encoded: encoding.startsWith('gzip'),
      headers: { 'content-type': 'application/json', 'Content-Encoding': encoding },
    });
    expect(response).toMatchObject({
      statusCode: 415,
      headers: { 'accept-encoding': 'identity' },
      body: {
        error: {
          code: 'unsupported_media_type',
          field: 'content-encoding',
          rule: 'identity',
          message: expect.stringContaining(`content-encoding "${encoding}"`),
        },
      },
    });
  });

  it.each(['identity', 'Identity', ''])('accepts content-encoding %j as plain', async (encoding) => {
    const response = await echo()({ ...post, body: '{"a":1}', headers: { 'content-type': 'application/json', 'content-encoding': encoding } });
    expect(response).toMatchObject({ statusCode: 200, body: { body: { a: 1 } } });
  });
});

describe('header', () => {
  it('finds a header whatever the case of its name', () => {
    const event = httpEvent({ method: 'GET', path: '/', headers: { 'Content-Type': 'a' } });
    expect(header(event, 'content-type')).toBe('a');
    expect(header(event, 'x-missing')).toBeUndefined();
  });
});
