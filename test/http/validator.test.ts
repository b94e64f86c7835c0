import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { expect, it } from 'vitest';
import * as z from 'zod';
import { httpErrorHandler } from '../../lib/http/errorHandler.js';
import { jsonBody } from '../../lib/http/jsonBody.js';
import { ok, type HttpResponse } from '../../lib/http/responses.js';
import { validInput, zodValidator } from '../../lib/http/validator.js';
import { httpEvent, lambdaContext, parseResponse, recordingLogger } from './fixtures.js';

const schemas = {
  path: z.object({ id: z.string().regex(/^\d+$/, 'must be digits').transform(Number) }),
  query: z.object({ verbose: z.enum(['yes', 'no']).optional() }),
  body: z.strictObject({ name: z.string().min(1), tags: z.array(z.string()).max(2) }),
};

const handler = middy<APIGatewayProxyEventV2, HttpResponse>()
  .use(jsonBody({ maxBytes: 1_000, required: true }))
  .use(zodValidator(schemas))
  .use(httpErrorHandler({ logger: recordingLogger() }))
  .handler(async (event) => ok(validInput(event, schemas)));

const call = async (pathId: string, body: unknown, query?: Record<string, string>) =>
  parseResponse(
    await handler(httpEvent({ method: 'POST', path: `/things/${pathId}`, pathParameters: { id: pathId }, body, ...(query ? { query } : {}) }), lambdaContext),
  );

it('hands the parsed (transformed) input to the handler', async () => {
  expect((await call('42', { name: 'a', tags: ['x'] }, { verbose: 'yes' })).body).toEqual({
    path: { id: 42 },
    query: { verbose: 'yes' },
    body: { name: 'a', tags: ['x'] },
  });
});

it('names every bad field of every part, with its rule', async () => {
  const response = await call('4x', { name: '', tags: ['a', 'b', 'c'], extra: 1 }, { verbose: 'maybe' });
  expect(response.statusCode).toBe(400);
  expect(response.body.error).toMatchObject({ code: 'invalid_input', field: 'id', rule: 'invalid_format:regex', message: 'id: must be digits (and 4 more)' });
  expect(response.body.error.issues).toHaveLength(5);
  expect(response.body.error.issues).toEqual(
    expect.arrayContaining([
      { field: 'id', rule: 'invalid_format:regex', message: 'must be digits' },
      { field: 'verbose', rule: 'invalid_value', message: expect.any(String) },
      { field: 'extra', rule: 'unrecognized_key', message: 'unknown field "extra"' },
      { field: 'name', rule: 'too_small', message: expect.any(String) },
      { field: 'tags', rule: 'too_big', message: expect.any(String) },
    ]),
  );
});

it('names the part when the part itself is wrong', async () => {
  expect((await call('1', [1])).body.error).toMatchObject({ field: 'body', rule: 'invalid_type' });
});

it.each([
  ['left out (API Gateway)', (event: APIGatewayProxyEventV2) => event],
  [
    'null (serverless offline)',
    (event: APIGatewayProxyEventV2) => ({ ...event, queryStringParameters: null, pathParameters: null }) as unknown as APIGatewayProxyEventV2,
  ],
])('reads a query string and path parameters %s as empty', async (_name, shape) => {
  const emptyParts = { path: z.strictObject({}), query: z.strictObject({ verbose: z.string().optional() }) };
  const echo = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(zodValidator(emptyParts))
    .use(httpErrorHandler({ logger: recordingLogger() }))
    .handler(async (event) => ok(validInput(event, emptyParts)));
  const response = parseResponse(await echo(shape(httpEvent({ method: 'GET', path: '/things' })), lambdaContext));
  expect(response).toMatchObject({ statusCode: 200, body: { path: {}, query: {} } });
});
