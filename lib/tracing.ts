/**
 * Tracing across the queue, on the OpenTelemetry API (`@opentelemetry/api`).
 *
 * A message keeps the trace context of whoever enqueued it (queue_messages.trace_context, in the
 * W3C Trace Context form), and the drain runs each of its attempts in a consumer span of that
 * trace: the first attempt's parent is the producer, a retry links to it (the messaging semantic
 * conventions' advice for a delivery that is not the first). Claims, settles and Data API calls
 * get spans of their own.
 *
 * The API is only a facade: without an SDK registered (the ADOT Lambda layer registers one, a test
 * registers an in-memory one) it does nothing, and this module then makes no span at all, so a
 * drain without tracing does no per-message work for it but carry the stored context along.
 */
import {
  context as otelContext,
  createTraceState,
  ProxyTracerProvider,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from '@opentelemetry/api';
import { describeError } from './errors.js';

export const TRACER_NAME = 'aurora-queue';

/** The messaging system's name in span attributes (messaging.system). */
const MESSAGING_SYSTEM = 'aurora_queue';

/** The stored context's parts: W3C `traceparent` and, when there is one, `tracestate`. */
export interface TraceHeaders {
  traceparent: string;
  tracestate?: string;
}

/**
 * The registered SDK's tracer, or undefined when none is registered (the API's default): then
 * nothing here makes spans. Asked per use, not cached: a cheap check, and right even when an SDK
 * registers after this module loaded.
 */
export function activeTracer(): Tracer | undefined {
  const provider = trace.getTracerProvider();
  if (provider instanceof ProxyTracerProvider) return provider.getDelegateTracer(TRACER_NAME);
  return provider.getTracer(TRACER_NAME);
}

// W3C Trace Context, level 1: version 00 is exactly this; a later version may append fields after
// the flags, which a version-00 reader ignores. Version ff is invalid, as are all-zero ids.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** What the W3C asks a vendor to propagate of tracestate at least; longer lists lose members from the end. */
const MAX_TRACESTATE_CHARS = 512;
// A tracestate list member: a key, `=`, a value of printable ASCII without `,` and `=`.
const TRACESTATE_MEMBER = /^[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/;

/**
 * The span context a traceparent (and tracestate) carries, or undefined when the traceparent is
 * not valid: the W3C specification has a receiver ignore an invalid one and go on without it, so
 * an enqueue with a malformed header is accepted, untraced, rather than refused.
 */
export function parseTraceparent(traceparent: string, tracestate?: string): SpanContext | undefined {
  const match = TRACEPARENT.exec(traceparent.trim().toLowerCase());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  const state = normalizeTracestate(tracestate);
  return {
    traceId,
    spanId,
    // Only the sampled bit is defined; the others are dropped, as a version-00 writer must.
    traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED,
    isRemote: true,
    ...(state === undefined ? {} : { traceState: createTraceState(state) }),
  };
}

/**
 * A tracestate as a list of valid members joined by `,` (no optional whitespace), cut to 512
 * characters by dropping members from the end; undefined when nothing valid is left.
 */
function normalizeTracestate(tracestate: string | undefined): string | undefined {
  if (tracestate === undefined) return undefined;
  const members = tracestate
    .split(',')
    .map((member) => member.trim())
    .filter((member) => TRACESTATE_MEMBER.test(member));
  while (members.length > 0 && members.join(',').length > MAX_TRACESTATE_CHARS) members.pop();
  return members.length === 0 ? undefined : members.join(',');
}

/**
 * An X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;
 * Sampled=1`) as a span context: an X-Ray trace id is a W3C trace id once its epoch and random
 * parts are joined, as the AWS X-Ray propagator maps it. Undefined without a Root and a Parent.
 */
export function parseXRayHeader(header: string): SpanContext | undefined {
  const fields = new Map(
    header.split(';').map((field) => {
      const [key = '', value = ''] = field.split('=', 2);
      return [key.trim().toLowerCase(), value.trim().toLowerCase()] as const;
    }),
  );
  const root = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(fields.get('root') ?? '');
  const parent = fields.get('parent') ?? '';
  if (root === null || !/^[0-9a-f]{16}$/.test(parent)) return undefined;
  return parseTraceparent(`00-${root[1]}${root[2]}-${parent}-${fields.get('sampled') === '1' ? '01' : '00'}`);
}

/**
 * The trace context an HTTP request carries: `traceparent` (with `tracestate`), else API Gateway's
 * or a caller's `X-Amzn-Trace-Id`. Header names in any case (API Gateway's HTTP API lowers them,
 * a REST API or a test may not).
 */
export function traceContextFromHeaders(headers: Readonly<Record<string, string | undefined>> | undefined): SpanContext | undefined {
  if (headers === undefined) return undefined;
  const named: Partial<Record<'traceparent' | 'tracestate' | 'x-amzn-trace-id', string>> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value !== undefined && (lower === 'traceparent' || lower === 'tracestate' || lower === 'x-amzn-trace-id')) named[lower] = value;
  }
  const w3c = named.traceparent === undefined ? undefined : parseTraceparent(named.traceparent, named.tracestate);
  if (w3c !== undefined) return w3c;
  return named['x-amzn-trace-id'] === undefined ? undefined : parseXRayHeader(named['x-amzn-trace-id']);
}

/** The span context active where this is called (the caller's span), or undefined. */
export function activeSpanContext(): SpanContext | undefined {
  const spanContext = trace.getSpanContext(otelContext.active());
  return spanContext !== undefined && trace.isSpanContextValid(spanContext) ? spanContext : undefined;
}

/** A span context in its stored form: its traceparent, then a space and its tracestate if any. */
export function formatTraceContext(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0 ? '01' : '00';
  const traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
  const state = normalizeTracestate(spanContext.traceState?.serialize());
  return state === undefined ? traceparent : `${traceparent} ${state}`;
}

/** The headers to send a stored (or active) context on with: what the typed client sets. */
export function traceHeaders(spanContext: SpanContext): TraceHeaders {
  const [traceparent = '', tracestate] = formatTraceContext(spanContext).split(' ', 2);
  return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
}

/** A stored context back as a span context (undefined for NULL or anything unreadable). */
export function parseStoredTraceContext(stored: string | null | undefined): SpanContext | undefined {
  if (stored == null) return undefined;
  const space = stored.indexOf(' ');
  return space === -1 ? parseTraceparent(stored) : parseTraceparent(stored.slice(0, space), stored.slice(space + 1));
}

/** The trace id of a stored context (what logs, `status` and the dashboard show), or null. */
export function traceIdOf(stored: string | null | undefined): string | null {
  return parseStoredTraceContext(stored)?.traceId ?? null;
}

/**
 * What an enqueue stores for its messages: the context the request carried (`given`), else the
 * caller's active span's, formatted; null when there is none.
 */
export function traceContextToStore(given: SpanContext | undefined): string | null {
  const spanContext = given ?? activeSpanContext();
  return spanContext === undefined ? null : formatTraceContext(spanContext);
}

/**
 * Runs an enqueue of `count` messages on `queue`, giving `fn` the context to store with them. With
 * an SDK registered that is the context of a producer span, `send <queue>` (the messaging
 * conventions' send span), a child of the request's context (`given`) or of the caller's active
 * span, so the enqueue's own calls and each message's consumer spans hang under it; without one,
 * the request's context or nothing (traceContextToStore).
 */
export function inSendSpan<T>(queue: string, count: number, given: SpanContext | undefined, fn: (stored: string | null) => Promise<T>): Promise<T> {
  const tracer = activeTracer();
  if (tracer === undefined) return fn(traceContextToStore(given));
  const parent = given === undefined ? otelContext.active() : trace.setSpanContext(otelContext.active(), given);
  const attributes: Attributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': 'send',
    'messaging.operation.name': 'send',
    'messaging.destination.name': queue,
    'messaging.batch.message_count': count,
  };
  return tracer.startActiveSpan(`send ${queue}`, { kind: SpanKind.PRODUCER, attributes }, parent, async (span) => {
    try {
      return await fn(formatTraceContext(span.spanContext()));
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A message as its attempt span describes it. */
export interface TracedMessage {
  id: string;
  queue: string;
  type: string;
  /** 1 on the first attempt. */
  attempts: number;
  /** The stored context of its producer, or null. */
  traceContext: string | null;
}

/** The outcome an attempt span records. */
export interface TracedOutcome {
  kind: 'done' | 'retry' | 'dead' | 'cancelled' | 'lost';
  error?: string;
}

/**
 * Starts the consumer span of one attempt, following the OpenTelemetry messaging conventions
 * (`process <queue>`, messaging.* attributes). The first attempt is a child of the producer's
 * context; a later one starts under whatever is active (the drain's invocation) and links to the
 * producer, since its cause is the retry as much as the enqueue. Undefined without an SDK.
 */
export function startAttemptSpan(message: TracedMessage): Span | undefined {
  const tracer = activeTracer();
  if (tracer === undefined) return undefined;
  const producer = parseStoredTraceContext(message.traceContext);
  const attributes: Attributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': message.queue,
    'messaging.message.id': message.id,
    'aurora_queue.message.type': message.type,
    'aurora_queue.message.attempt': message.attempts,
  };
  const firstAttempt = message.attempts <= 1;
  const links: Link[] = producer !== undefined && !firstAttempt ? [{ context: producer }] : [];
  const parent: Context = producer !== undefined && firstAttempt ? trace.setSpanContext(otelContext.active(), producer) : otelContext.active();
  return tracer.startSpan(`process ${message.queue}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
}

/**
 * Starts the consumer span of one batch handler call: `process <queue>` under whatever is active
 * (the drain run), linked to every message's producer (a batch has many causes, so it parents to
 * none of them), with the batch's size. Undefined without an SDK.
 */
export function startBatchSpan(queue: string, type: string, messages: readonly Omit<TracedMessage, 'queue' | 'type'>[]): Span | undefined {
  const tracer = activeTracer();
  if (tracer === undefined) return undefined;
  const links: Link[] = [];
  for (const message of messages) {
    const producer = parseStoredTraceContext(message.traceContext);
    if (producer !== undefined) links.push({ context: producer, attributes: { 'messaging.message.id': message.id } });
  }
  const attributes: Attributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': 'process',
    'messaging.operation.name': 'process',
    'messaging.destination.name': queue,
    'messaging.batch.message_count': messages.length,
    'aurora_queue.message.type': type,
  };
  return tracer.startSpan(`process ${queue}`, { kind: SpanKind.CONSUMER, attributes, links });
}

/** Ends a batch's span with how many of its messages ended each way; an error when any did not end done. */
export function endBatchSpan(span: Span | undefined, outcomes: Iterable<TracedOutcome>): void {
  if (span === undefined) return;
  const counts = { done: 0, retry: 0, dead: 0, cancelled: 0, lost: 0 };
  for (const outcome of outcomes) counts[outcome.kind]++;
  span.setAttributes({
    'aurora_queue.batch.done': counts.done,
    'aurora_queue.batch.retry': counts.retry,
    'aurora_queue.batch.dead': counts.dead,
    ...(counts.lost > 0 ? { 'aurora_queue.batch.lost': counts.lost } : {}),
  });
  if (counts.retry + counts.dead + counts.lost > 0) span.setStatus({ code: SpanStatusCode.ERROR, message: `${counts.retry} to retry, ${counts.dead} dead` });
  span.end();
}

/** Runs `fn` with `span` as the active span (its handler's own spans become its children). */
export function withSpan<T>(span: Span | undefined, fn: () => T): T {
  if (span === undefined) return fn();
  return otelContext.with(trace.setSpan(otelContext.active(), span), fn);
}

/** Ends an attempt's span with its outcome: `done` is OK, `retry` and `dead` are errors with the stored error text. */
export function endAttemptSpan(span: Span | undefined, outcome: TracedOutcome): void {
  if (span === undefined) return;
  span.setAttribute('aurora_queue.outcome', outcome.kind);
  if (outcome.kind !== 'done') span.setStatus({ code: SpanStatusCode.ERROR, ...(outcome.error === undefined ? {} : { message: outcome.error }) });
  span.end();
}

/**
 * Runs `fn` in an internal span named `name` (a claim, a settle write) when an SDK is registered,
 * so the Data API calls it makes are its children; without one, just runs it. A failure marks
 * the span as an error with the error's description: no stack, no SQL.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: (span?: Span) => Promise<T>, kind: SpanKind = SpanKind.INTERNAL): Promise<T> {
  const tracer = activeTracer();
  if (tracer === undefined) return fn();
  return tracer.startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: describeError(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

export { SpanKind };
export type { Span, SpanContext };
