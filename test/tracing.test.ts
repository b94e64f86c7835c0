/** lib/tracing.ts without an SDK: the W3C and X-Ray headers, the stored form, and no spans at all. */
import { describe, expect, it } from 'vitest';
import {
  activeTracer,
  formatTraceContext,
  inSpan,
  parseStoredTraceContext,
  parseTraceparent,
  parseXRayHeader,
  startAttemptSpan,
  traceContextFromHeaders,
  traceContextToStore,
  traceHeaders,
  traceIdOf,
} from '../lib/tracing.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';
const PARENT = `00-${TRACE}-${SPAN}-01`;

describe('parseTraceparent', () => {
  it('reads version 00: trace id, span id, the sampled flag, remote', () => {
    expect(parseTraceparent(PARENT)).toEqual({ traceId: TRACE, spanId: SPAN, traceFlags: 1, isRemote: true });
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.traceFlags).toBe(0);
    // Flags other than sampled are not defined in version 00: dropped.
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-ff`)?.traceFlags).toBe(1);
    expect(parseTraceparent(` 00-${TRACE.toUpperCase()}-${SPAN}-01 `)?.traceId).toBe(TRACE);
  });

  it('reads the first four fields of a later version, as a version-00 reader must', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-what-comes-next`)?.spanId).toBe(SPAN);
  });

  it('ignores what the specification calls invalid: the stored context is then none', () => {
    for (const bad of [
      '',
      'nonsense',
      `ff-${TRACE}-${SPAN}-01`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
      `00-${TRACE.slice(1)}-${SPAN}-01`,
      `00-${TRACE}-${SPAN}`,
      `00-${TRACE.replace('4', 'g')}-${SPAN}-01`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
  });

  it('keeps valid tracestate members without whitespace, and at most 512 characters of them', () => {
    const context = parseTraceparent(PARENT, ' rojo=00f067aa0ba902b7 ,, congo=t61rcWkgMzE,bad key=x ');
    expect(context?.traceState?.serialize()).toBe('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE');
    const long = Array.from({ length: 30 }, (_, i) => `k${i}=${'v'.repeat(20)}`).join(',');
    const kept = parseTraceparent(PARENT, long)?.traceState?.serialize() ?? '';
    expect(kept.length).toBeLessThanOrEqual(512);
    expect(long.startsWith(kept)).toBe(true);
    expect(parseTraceparent(PARENT, 'only garbage')?.traceState).toBeUndefined();
  });
});

describe('parseXRayHeader', () => {
  it('maps an X-Ray trace header to the W3C ids, as the X-Ray propagator does', () => {
    expect(parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1')).toEqual({
      traceId: '5759e988bd862e3fe1be46a994272793',
      spanId: '53995c3f42cd8ad8',
      traceFlags: 1,
      isRemote: true,
    });
    expect(parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0')?.traceFlags).toBe(0);
  });

  it('needs a root and a parent', () => {
    expect(parseXRayHeader('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1')).toBeUndefined();
    expect(parseXRayHeader('Parent=53995c3f42cd8ad8')).toBeUndefined();
    expect(parseXRayHeader('Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8')).toBeUndefined();
  });
});

describe('traceContextFromHeaders', () => {
  const xray = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';

  it('takes traceparent (with tracestate), in any header case', () => {
    expect(traceContextFromHeaders({ Traceparent: PARENT, TraceState: 'a=b' })?.traceState?.serialize()).toBe('a=b');
    expect(traceContextFromHeaders({ traceparent: PARENT, 'x-amzn-trace-id': xray })?.traceId).toBe(TRACE);
  });

  it('falls back to X-Amzn-Trace-Id when traceparent is missing or invalid', () => {
    expect(traceContextFromHeaders({ 'X-Amzn-Trace-Id': xray })?.traceId).toBe('5759e988bd862e3fe1be46a994272793');
    expect(traceContextFromHeaders({ traceparent: 'broken', 'x-amzn-trace-id': xray })?.spanId).toBe('53995c3f42cd8ad8');
    expect(traceContextFromHeaders({ 'content-type': 'application/json' })).toBeUndefined();
    expect(traceContextFromHeaders(undefined)).toBeUndefined();
  });
});

describe('the stored form', () => {
  it('is the traceparent, then a space and the tracestate when there is one, and reads back the same', () => {
    const plain = parseTraceparent(PARENT)!;
    expect(formatTraceContext(plain)).toBe(PARENT);
    const withState = parseTraceparent(PARENT, 'rojo=1,congo=2')!;
    const stored = formatTraceContext(withState);
    expect(stored).toBe(`${PARENT} rojo=1,congo=2`);
    expect(parseStoredTraceContext(stored)).toMatchObject({ traceId: TRACE, spanId: SPAN, traceFlags: 1 });
    expect(parseStoredTraceContext(stored)?.traceState?.serialize()).toBe('rojo=1,congo=2');
    expect(traceHeaders(withState)).toEqual({ traceparent: PARENT, tracestate: 'rojo=1,congo=2' });
    expect(traceHeaders(plain)).toEqual({ traceparent: PARENT });
  });

  it('fits its column: 55 characters of traceparent, a space and 512 of tracestate', () => {
    const long = Array.from({ length: 32 }, (_, i) => `key${i}=${'v'.repeat(40)}`).join(',');
    expect(formatTraceContext(parseTraceparent(PARENT, long)!).length).toBeLessThanOrEqual(568);
  });

  it('gives the trace id for logs and the status, or null', () => {
    expect(traceIdOf(`${PARENT} a=b`)).toBe(TRACE);
    expect(traceIdOf(null)).toBeNull();
    expect(traceIdOf('garbage')).toBeNull();
  });
});

describe('without an OpenTelemetry SDK', () => {
  it('has no tracer, makes no span, and stores only a context the request gave', async () => {
    expect(activeTracer()).toBeUndefined();
    expect(startAttemptSpan({ id: 'm', queue: 'q', type: 't', attempts: 1, traceContext: PARENT })).toBeUndefined();
    expect(await inSpan('claim q', {}, async (span) => span)).toBeUndefined();
    expect(traceContextToStore(undefined)).toBeNull();
    expect(traceContextToStore(parseTraceparent(PARENT))).toBe(PARENT);
  });
});
