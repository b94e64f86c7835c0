/** Shared by the enqueue, messages, operations and handler tests: job types, an App, HTTP events. */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as z from 'zod';
import { createApp, type App } from '../../lib/app.js';
import { ManualClock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/types.js';
import { defineJobType } from '../../lib/jobs/types.js';
import type { QueueDeclaration } from '../../lib/queues.js';
import { defineConfig } from '../../lib/config.js';

export const smsType = defineJobType({
  type: 'sms.send',
  payload: z.strictObject({ to: z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be an E.164 phone number'), text: z.string().min(1).max(1_600) }),
  handle: async () => {},
  maxAttempts: 7,
});

/** Takes any JSON: for size, Unicode and nesting tests. */
export const anyType = defineJobType({ type: 'any', payload: z.json(), handle: async () => {} });

export const testQueues: QueueDeclaration[] = [{ name: 'default' }, { name: 'sms', maxAttempts: 3 }, { name: 'orders' }];

export function testApp(db: Db, clock = new ManualClock('2026-03-01T12:00:00.000Z')): App & { clock: ManualClock } {
  const app = createApp({ db, clock, config: defineConfig({ jobTypes: [smsType, anyType], queues: testQueues }), env: {} });
  return { ...app, clock };
}

export interface EventInput {
  method: string;
  path: string;
  routeKey?: string;
  pathParameters?: Record<string, string>;
  query?: Record<string, string>;
  /** An object is sent as JSON; a string as is. */
  body?: unknown;
  headers?: Record<string, string>;
  isBase64Encoded?: boolean;
}

/** POST /queues/{queue}/messages with `body` (one message or `{ messages }`), as API Gateway hands it over. */
export function enqueueEvent(queue: string, body: unknown, overrides: Partial<EventInput> = {}): APIGatewayProxyEventV2 {
  return httpEvent({
    method: 'POST',
    path: `/queues/${queue}/messages`,
    routeKey: 'POST /queues/{queue}/messages',
    pathParameters: { queue },
    body,
    ...overrides,
  });
}

export function httpEvent(input: EventInput): APIGatewayProxyEventV2 {
  const body = input.body === undefined ? undefined : typeof input.body === 'string' ? input.body : JSON.stringify(input.body);
  const headers = { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...input.headers };
  const rawQueryString = new URLSearchParams(input.query ?? {}).toString();
  return {
    version: '2.0',
    routeKey: input.routeKey ?? `${input.method} ${input.path}`,
    rawPath: input.path,
    rawQueryString,
    headers,
    ...(input.query ? { queryStringParameters: input.query } : {}),
    ...(input.pathParameters ? { pathParameters: input.pathParameters } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: input.method, path: input.path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: 'test-request',
      routeKey: input.routeKey ?? `${input.method} ${input.path}`,
      stage: '$default',
      time: '01/Mar/2026:12:00:00 +0000',
      timeEpoch: Date.parse('2026-03-01T12:00:00Z'),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded: input.isBase64Encoded ?? false,
  };
}

export const lambdaContext: Context = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: 'test',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test',
  memoryLimitInMB: '256',
  awsRequestId: 'test-request',
  logGroupName: '/aws/lambda/test',
  logStreamName: 'test',
  getRemainingTimeInMillis: () => 29_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

/** A logger that keeps what it is told, for asserting what reached the logs. */
export function recordingLogger() {
  const entries: { level: string; message: string; extra: unknown[] }[] = [];
  return {
    entries,
    error: (message: string, ...extra: unknown[]) => void entries.push({ level: 'error', message, extra }),
    warn: (message: string, ...extra: unknown[]) => void entries.push({ level: 'warn', message, extra }),
  };
}

export interface ParsedResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: any;
}

export function parseResponse(response: unknown): ParsedResponse {
  const r = response as { statusCode: number; headers?: Record<string, string>; body?: string };
  return { statusCode: r.statusCode, headers: r.headers ?? {}, body: r.body ? JSON.parse(r.body) : undefined };
}
