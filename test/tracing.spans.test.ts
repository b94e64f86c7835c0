/**
 * One trace from the producer to the handler, with an in-memory OpenTelemetry SDK registered: an
 * HTTP enqueue with a traceparent, a failed attempt, a retry that succeeds; the outbox and the
 * typed client (over HTTP and direct) carry the caller's context the same way. Real stack.
 */
import { context, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createQueueClient } from '../lib/client/index.js';
import { ManualClock } from '../lib/clock.js';
import { defineConfig } from '../lib/config.js';
import { drain } from '../lib/drain/drain.js';
import { enqueue } from '../lib/enqueue.js';
import { defineJobType, type JobContext } from '../lib/jobs/types.js';
import { getMessageStatus } from '../lib/messages.js';
import { parseTraceparent } from '../lib/tracing.js';
import { createEnqueueHandler } from '../handlers/enqueue.js';
import { enqueueEvent, lambdaContext, parseResponse } from './http/fixtures.js';
import { appOn, jobType, plenty } from './drain/helpers.js';
import { useStack } from './support/stack.js';

const stack = useStack();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const tracer = provider.getTracer('test');

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
});
afterAll(async () => {
  trace.disable();
  context.disable();
  await provider.shutdown();
});
beforeEach(async () => {
  exporter.reset();
  await stack.sql.query('DELETE FROM queue_messages');
});

/** The `flaky` type as a producer declares it: the typed client checks payloads against it. */
const producerType = defineJobType({ type: 'flaky', payload: z.object({}), handle: async () => {} });

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PRODUCER_SPAN = '00f067aa0ba902b7';
const T0 = '2026-03-01T12:00:00.000Z';

/** A queue whose `flaky` type fails its first attempt, recording what each attempt saw. */
function flakyApp() {
  const clock = new ManualClock(T0);
  const seen: { attempt: number; traceId: string | undefined; activeSpanId: string | undefined }[] = [];
  const flaky = jobType('flaky', async (_payload, job: JobContext) => {
    seen.push({ attempt: job.attempt, traceId: job.traceId, activeSpanId: trace.getActiveSpan()?.spanContext().spanId });
    if (job.attempt === 1) throw new Error('downstream 503');
  });
  const app = appOn(stack, { queues: [{ name: 'traced', backoff: { baseMs: 1_000, factor: 1, maxMs: 1_000 } }], jobTypes: [flaky], clock });
  return { app, clock, seen };
}

const attemptSpans = () => exporter.getFinishedSpans().filter((span) => span.name === 'process traced');
const named = (name: string) => exporter.getFinishedSpans().filter((span) => span.name === name);

/** Drains until nothing is due, then moves the clock past the retry's backoff and drains again. */
async function drainTwice(app: ReturnType<typeof flakyApp>['app'], clock: ManualClock) {
  await drain(app, { remainingTimeMs: plenty, random: () => 0.5 });
  clock.advance(5_000);
  await drain(app, { remainingTimeMs: plenty, random: () => 0.5 });
}

describe('an HTTP enqueue with a traceparent, a retry, then success', () => {
  it("runs both attempts in consumer spans of the producer's trace: its child first, then linked to it", async () => {
    const { app, clock, seen } = flakyApp();
    const handler = createEnqueueHandler(() => app, { publishMetrics: () => {} });
    const response = parseResponse(
      await handler(
        enqueueEvent(
          'traced',
          { type: 'flaky', payload: {} },
          {
            headers: { traceparent: `00-${TRACE}-${PRODUCER_SPAN}-01`, tracestate: 'rojo=00f067aa0ba902b7' },
          },
        ),
        lambdaContext,
      ),
    );
    expect(response.statusCode).toBe(202);
    const id = (response.body as { id: string }).id;
    expect(await getMessageStatus(app, id)).toMatchObject({ traceId: TRACE });

    await drainTwice(app, clock);

    expect(await getMessageStatus(app, id)).toMatchObject({ status: 'done', attempts: 2, traceId: TRACE });
    const [first, second] = attemptSpans().sort(
      (a, b) => Number(a.attributes['aurora_queue.message.attempt']) - Number(b.attributes['aurora_queue.message.attempt']),
    );
    expect(attemptSpans()).toHaveLength(2);

    // The enqueue is a producer span under the request's traceparent, with its tracestate.
    const [send] = named('send traced');
    expect(send!.kind).toBe(3); // SpanKind.PRODUCER
    expect(send!.spanContext().traceId).toBe(TRACE);
    expect(send!.parentSpanContext?.spanId).toBe(PRODUCER_SPAN);
    expect(send!.spanContext().traceState?.get('rojo')).toBe('00f067aa0ba902b7');
    expect(send!.attributes).toMatchObject({ 'messaging.operation.type': 'send', 'messaging.destination.name': 'traced', 'messaging.batch.message_count': 1 });
    // The first attempt is the producer's child, in its trace, with its tracestate.
    expect(first!.spanContext().traceId).toBe(TRACE);
    expect(first!.parentSpanContext?.spanId).toBe(send!.spanContext().spanId);
    expect(first!.parentSpanContext?.traceState?.get('rojo')).toBe('00f067aa0ba902b7');
    expect(first!.links).toEqual([]);
    // The retry starts under the drain run's span for its queue and links to the producer.
    const lanes = named('drain traced').map((lane) => lane.spanContext().spanId);
    expect(lanes).toContain(second!.parentSpanContext?.spanId);
    expect(second!.spanContext().traceId).not.toBe(TRACE);
    expect(second!.links.map((link) => [link.context.traceId, link.context.spanId])).toEqual([[TRACE, send!.spanContext().spanId]]);

    for (const [span, attempt, outcome] of [
      [first!, 1, 'retry'],
      [second!, 2, 'done'],
    ] as const) {
      expect(span.kind).toBe(4); // SpanKind.CONSUMER
      expect(span.attributes).toMatchObject({
        'messaging.system': 'aurora_queue',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': 'traced',
        'messaging.message.id': id,
        'aurora_queue.message.type': 'flaky',
        'aurora_queue.message.attempt': attempt,
        'aurora_queue.outcome': outcome,
      });
    }
    // A failed attempt is an error span with the stored error text, no stack.
    expect(first!.status).toEqual({ code: 2, message: 'Error: downstream 503' });
    expect(second!.status.code).toBe(0);

    // The handler ran inside its attempt's span and was told the trace id.
    expect(seen).toEqual([
      { attempt: 1, traceId: TRACE, activeSpanId: first!.spanContext().spanId },
      { attempt: 2, traceId: TRACE, activeSpanId: second!.spanContext().spanId },
    ]);
  });

  it('puts claims, settles and Data API calls in spans of their own, the calls as children with their statement', async () => {
    const { app, clock } = flakyApp();
    await enqueue(app, 'traced', [{ type: 'flaky', payload: {} }]);
    await drainTwice(app, clock);

    const lanes = named('drain traced');
    const claims = named('claim traced');
    expect(lanes.length).toBeGreaterThanOrEqual(2);
    expect(claims.length).toBeGreaterThanOrEqual(2);
    expect(claims.every((claim) => lanes.some((lane) => lane.spanContext().spanId === claim.parentSpanContext?.spanId))).toBe(true);
    expect(claims.map((claim) => claim.attributes['messaging.batch.message_count'])).toContain(1);
    expect(named('settle reschedule')).toHaveLength(1);
    expect(named('settle ack')).toHaveLength(1);

    const calls = named('RDSData.ExecuteStatement');
    const underClaims = calls.filter((call) => claims.some((claim) => claim.spanContext().spanId === call.parentSpanContext?.spanId));
    expect(underClaims.map((call) => call.attributes['db.operation.name'])).toEqual(expect.arrayContaining(['UPDATE', 'SELECT']));
    for (const call of calls) {
      expect(call.kind).toBe(2); // SpanKind.CLIENT
      expect(call.attributes).toMatchObject({ 'rpc.system': 'aws-api', 'rpc.service': 'RDSData', 'db.system.name': 'mysql' });
      // Values travel as parameters: the statement text names them, never holds them.
      expect(String(call.attributes['db.query.text'])).not.toContain('downstream 503');
    }
  });
});

describe('a batch handler', () => {
  it("runs in one consumer span linked to every message's producer", async () => {
    const clock = new ManualClock(T0);
    const batchType = defineJobType({
      type: 'bulk',
      payload: z.object({}),
      batch: { maxSize: 10 },
      handleBatch: async (messages) => (messages[0] === undefined ? [] : [{ id: messages[0].id, outcome: 'retry' as const, error: 'busy' }]),
    });
    const app = appOn(stack, { queues: [{ name: 'batched' }], jobTypes: [batchType], clock });
    const producers = await Promise.all(
      ['a', 'b', 'c'].map((name) =>
        tracer.startActiveSpan(name, async (span: Span) => {
          await enqueue(app, 'batched', [{ type: 'bulk', payload: {} }]);
          span.end();
          return span.spanContext().traceId;
        }),
      ),
    );
    await drain(app, { remainingTimeMs: plenty });

    const [batch, ...others] = named('process batched');
    expect(others).toEqual([]);
    expect(batch!.attributes).toMatchObject({
      'messaging.batch.message_count': 3,
      'aurora_queue.message.type': 'bulk',
      'aurora_queue.batch.done': 2,
      'aurora_queue.batch.retry': 1,
    });
    expect(batch!.status.code).toBe(2);
    expect(batch!.links.map((link) => link.context.traceId).sort()).toEqual([...producers].sort());
    expect(batch!.links.every((link) => typeof link.attributes?.['messaging.message.id'] === 'string')).toBe(true);
  });
});

describe('log lines about a message', () => {
  it('carry its id and trace id: a failed attempt, then its death', async () => {
    const { app } = flakyApp();
    const lines: { level: string; message: string; attributes: Record<string, unknown> }[] = [];
    const log = {
      warn: (message: string, attributes: Record<string, unknown>) => void lines.push({ level: 'warn', message, attributes }),
      error: (message: string, attributes: Record<string, unknown>) => void lines.push({ level: 'error', message, attributes }),
    };
    const [sent] = await enqueue(app, 'traced', [{ type: 'flaky', payload: {}, maxAttempts: 1 }], {
      traceContext: parseTraceparent(`00-${TRACE}-${PRODUCER_SPAN}-01`),
    });
    const id = sent!.id;
    await drain(app, { remainingTimeMs: plenty, log });
    expect(lines).toEqual([
      {
        level: 'error',
        message: 'message dead-lettered',
        attributes: {
          messageId: id,
          queue: 'traced',
          jobType: 'flaky',
          attempt: 1,
          traceId: TRACE,
          error: 'attempts exhausted (1/1); last error: Error: downstream 503',
        },
      },
    ]);
  });
});

describe("the caller's active span", () => {
  it("is the outbox's: its enqueue is a send span under it, and the consumer that span's child", async () => {
    const { app, clock } = flakyApp();
    const checkout = await tracer.startActiveSpan('checkout', async (span: Span) => {
      await app.db.transaction((tx) => enqueue(app, 'traced', [{ type: 'flaky', payload: {} }], { db: tx }));
      span.end();
      return span.spanContext();
    });
    await drainTwice(app, clock);
    const [first] = attemptSpans().filter((span) => span.attributes['aurora_queue.message.attempt'] === 1);
    const [send] = named('send traced');
    expect(send!.parentSpanContext?.spanId).toBe(checkout.spanId);
    expect(first!.spanContext().traceId).toBe(checkout.traceId);
    expect(first!.parentSpanContext?.spanId).toBe(send!.spanContext().spanId);
  });

  it('is what the direct typed client stores, per caller, though callers share one insert', async () => {
    const { app } = flakyApp();
    const client = createQueueClient({
      transport: 'direct',
      config: defineConfig({ queues: [{ name: 'traced' }], jobTypes: [producerType] }),
      database: app.db,
      env: {},
      lingerMs: 20,
    });
    const send = (name: string) =>
      tracer.startActiveSpan(name, async (span: Span) => {
        const { id } = await client.enqueue('flaky', {}, { queue: 'traced' });
        span.end();
        return { id, traceId: span.spanContext().traceId };
      });
    const sent = await Promise.all([send('a'), send('b')]);
    await client.close();
    expect(sent[0].traceId).not.toBe(sent[1].traceId);
    for (const { id, traceId } of sent) expect((await getMessageStatus(app, id)).traceId).toBe(traceId);
  });

  it('goes with the HTTP typed client as traceparent, and the API stores it', async () => {
    const { app } = flakyApp();
    const handler = createEnqueueHandler(() => app, { publishMetrics: () => {} });
    const sentHeaders: Record<string, string>[] = [];
    const client = createQueueClient({
      transport: 'http',
      config: defineConfig({ queues: [{ name: 'traced' }], jobTypes: [producerType] }),
      baseUrl: 'https://api.example.test',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      fetch: async (url, init) => {
        const headers = init?.headers as Record<string, string>;
        sentHeaders.push(headers);
        expect(new URL(url).pathname).toBe('/queues/traced/messages');
        const event = enqueueEvent('traced', init!.body as string, { headers });
        const answer = (await handler(event, lambdaContext)) as { statusCode: number; body: string };
        return new Response(answer.body, { status: answer.statusCode, headers: { 'content-type': 'application/json' } });
      },
    });
    const { id, spanContext } = await tracer.startActiveSpan('order', async (span: Span) => {
      const { id } = await client.enqueue('flaky', {}, { queue: 'traced' });
      span.end();
      return { id, spanContext: span.spanContext() };
    });
    expect(sentHeaders[0]!.traceparent).toBe(`00-${spanContext.traceId}-${spanContext.spanId}-01`);
    expect((await getMessageStatus(app, id)).traceId).toBe(spanContext.traceId);
  });
});
