/** encodeResult: what a handler returns, as the JSON text stored with its message, or the rule it broke. */
import { describe, expect, it } from 'vitest';
import { encodeResult } from '../../lib/drain/result.js';

describe('encodeResult', () => {
  it('stores JSON, and nothing for undefined or null', () => {
    expect(encodeResult({ sid: 'SM1', parts: [1, 2] })).toEqual({ kind: 'stored', text: '{"sid":"SM1","parts":[1,2]}' });
    expect(encodeResult('ok')).toEqual({ kind: 'stored', text: '"ok"' });
    expect(encodeResult(0)).toEqual({ kind: 'stored', text: '0' });
    expect(encodeResult(new Date('2026-01-01T00:00:00Z'))).toEqual({ kind: 'stored', text: '"2026-01-01T00:00:00.000Z"' });
    expect(encodeResult(undefined)).toEqual({ kind: 'none' });
    expect(encodeResult(null)).toEqual({ kind: 'none' });
  });

  it('refuses what is not JSON, or over 48 KiB of JSON text, naming the rule', () => {
    expect(encodeResult(() => 1)).toEqual({ kind: 'refused', rule: 'the result must be JSON, not a function' });
    expect(encodeResult({ n: 1n })).toMatchObject({ kind: 'refused', rule: expect.stringMatching(/^the result must be JSON \(.*BigInt/) as unknown });
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    expect(encodeResult(cycle)).toMatchObject({ kind: 'refused', rule: expect.stringMatching(/^the result must be JSON \(/) as unknown });
    expect(encodeResult('x'.repeat(49_150))).toEqual({ kind: 'stored', text: `"${'x'.repeat(49_150)}"` });
    expect(encodeResult('é'.repeat(25_000))).toEqual({ kind: 'refused', rule: 'the result must be at most 49152 bytes of JSON text, got 50002' });
  });
});
