/** The App the benchmark drives: one queue with the product's default limits, one no-op job type. */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import * as z from 'zod';
import queueConfig from '../../queue.config.js';
import { createApp, type App } from '../../lib/app.js';
import { defineConfig } from '../../lib/config.js';
import { systemClock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/types.js';
import { defineJobType, type JobType } from '../../lib/jobs/types.js';
import type { QueueDeclaration } from '../../lib/queues.js';
import { BENCH_TYPE } from './seed.js';

export const BENCH_QUEUE = 'bench';

/** Validates an SMS-sized payload at enqueue and before dispatch, then does nothing. */
export function noopJobType(onDispatch?: (id: string) => void): JobType {
  return defineJobType({
    type: BENCH_TYPE,
    payload: z.strictObject({ n: z.number().int(), to: z.string(), text: z.string() }),
    // A job type states how long its work may take; the drain budgets its leases by it, so a
    // no-op declaring the 10 s default would hold (and pipeline) far fewer messages than it could.
    timeoutMs: 1_000,
    handle: async (_payload, context) => {
      onDispatch?.(context.id);
    },
  });
}

export function benchApp(db: Db, options: { queue?: Partial<QueueDeclaration>; onDispatch?: (id: string) => void } = {}): App {
  // The team's config plus the bench's own queue and no-op type, so the bench loads what deploys.
  // The queue carries only that type, as a team's queue of fast work would: its leases and claims
  // fit the no-op's timeout, not the team's 10 s webhooks (README: a queue's types).
  const config = defineConfig({
    queues: [...queueConfig.queues, { name: BENCH_QUEUE, types: [BENCH_TYPE], ...options.queue }],
    jobTypes: [...queueConfig.jobTypes, noopJobType(options.onDispatch)],
  });
  return createApp({ db, env: {}, config, clock: systemClock });
}

/** An API Gateway HTTP API (payload 2.0) event for POST /queues/{queue}/messages. */
export function enqueueEvent(queue: string, body: unknown): APIGatewayProxyEventV2 {
  const path = `/queues/${queue}/messages`;
  return {
    version: '2.0',
    routeKey: 'POST /queues/{queue}/messages',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { queue },
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench',
      domainName: 'localhost',
      domainPrefix: 'localhost',
      http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'bench',
      routeKey: 'POST /queues/{queue}/messages',
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

export function lambdaContext(remainingMs = 29_000): Context {
  const deadline = Date.now() + remainingMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'bench',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:bench',
    memoryLimitInMB: '256',
    awsRequestId: 'bench',
    logGroupName: '/aws/lambda/bench',
    logStreamName: 'bench',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
