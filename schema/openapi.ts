/** OpenAPI 3.1 for the HTTP API, generated from the routes' zod schemas (zod 4's JSON Schema output). */
import * as z from 'zod';
import { errorResponseBody, ROUTES } from './routes.js';

const REFUSALS: Record<number, string> = {
  400: 'a field breaks a rule: error names the field and the rule',
  404: 'unknown queue or message',
  409: 'the message is past the state the operation needs',
  413: 'too large: error names the limit',
  415: 'not a JSON body, or an encoding other than identity',
  503: 'the database is unavailable for the moment; retry after Retry-After',
};

/** Requests are described as callers write them (before transforms and defaults). */
const input = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' });
const output = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any', target: 'draft-2020-12' });

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query' | 'header'): object[] {
  if (schema === undefined) return [];
  const json = input(schema) as { properties?: Record<string, object>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || (json.required ?? []).includes(name),
    schema: property,
    ...('description' in property ? { description: property.description } : {}),
  }));
}

export function buildOpenApi(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of ROUTES) {
    const responses: Record<string, unknown> = {};
    for (const [status, schema] of Object.entries(route.responses)) {
      responses[status] = { description: 'OK', content: { 'application/json': { schema: output(schema) } } };
    }
    for (const [status, description] of Object.entries(REFUSALS)) {
      responses[status] = { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    (paths[route.path] ??= {})[route.method.toLowerCase()] = {
      summary: route.summary,
      operationId: `${route.function}:${route.method.toLowerCase()}:${route.path}`,
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query'), ...parameters(route.headers, 'header')],
      ...(route.body === undefined
        ? {}
        : {
            requestBody: { required: route.bodyRequired === true, content: { 'application/json': { schema: input(route.body) } } },
          }),
      responses,
      security: [{ sigv4: [] }],
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'aurora-queue',
      version,
      description: 'A message queue on Aurora MySQL through the RDS Data API. Every route needs a SigV4-signed request (API Gateway aws_iam).',
    },
    paths,
    components: {
      schemas: { Error: output(errorResponseBody) },
      securitySchemes: { sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS Signature Version 4 (service execute-api)' } },
    },
  };
}
