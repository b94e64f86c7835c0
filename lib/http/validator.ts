import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { z } from 'zod';
import { ValidationError, type FieldIssue } from '../errors.js';
import { issuesFromZod } from '../validation.js';
import type { HttpResponse } from './responses.js';

/** Schemas for the parts of a request a handler reads. Fields are named without a prefix. */
export interface InputSchemas {
  /** Reads `event.pathParameters`, `{}` when absent or null. */
  path?: z.ZodType;
  /** Reads `event.queryStringParameters`, `{}` when absent or null. */
  query?: z.ZodType;
  /** Reads `event.body` as left by the jsonBody middleware (parsed, or undefined). */
  body?: z.ZodType;
}

export type ValidInput<S extends InputSchemas> = { [K in keyof S]: S[K] extends z.ZodType ? z.output<S[K]> : never };

const VALID_INPUT = Symbol('validInput');

/**
 * Parses the request's parts with zod and keeps the results for the handler (`validInput`).
 * Every part is checked before refusing, so one answer names every bad field.
 */
export function zodValidator<S extends InputSchemas>(schemas: S): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> {
  return {
    name: 'zodValidator',
    before: async (request) => {
      const { event } = request;
      // No path parameters or query string: API Gateway leaves the field out, serverless offline
      // sends null. Either way the schema sees an empty object.
      const parts: Record<string, unknown> = { path: event.pathParameters ?? {}, query: event.queryStringParameters ?? {}, body: event.body };
      const input: Record<string, unknown> = {};
      const issues: FieldIssue[] = [];
      for (const part of ['path', 'query', 'body'] as const) {
        const schema = schemas[part];
        if (schema === undefined) continue;
        const result = await schema.safeParseAsync(parts[part]);
        if (result.success) input[part] = result.data;
        else issues.push(...issuesFromZod(result.error).map((issue) => (issue.field === '' ? { ...issue, field: part } : issue)));
      }
      if (issues.length > 0) throw new ValidationError(issues);
      Object.defineProperty(event, VALID_INPUT, { value: input, enumerable: false });
    },
  };
}

/** The input `zodValidator(schemas)` parsed for this event. */
export function validInput<S extends InputSchemas>(event: APIGatewayProxyEventV2, _schemas: S): ValidInput<S> {
  const input = (event as unknown as Record<symbol, unknown>)[VALID_INPUT];
  if (input === undefined) throw new Error('validInput: the zodValidator middleware has not run for this event');
  return input as ValidInput<S>;
}
