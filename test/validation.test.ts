import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { formatPath, issuesFromZod, ruleOf } from '../lib/validation.js';

const issues = (schema: z.ZodType, value: unknown) => issuesFromZod(schema.safeParse(value).error!);

describe('formatPath', () => {
  it('writes indexes in brackets and keys with dots', () => {
    expect(formatPath(['messages', 3, 'payload', 'to'])).toBe('messages[3].payload.to');
    expect(formatPath([0, 'a'])).toBe('[0].a');
    expect(formatPath([])).toBe('');
  });
});

describe('issuesFromZod', () => {
  it("names a refinement's rule from its params, and one without a rule as invalid rather than custom", () => {
    const schema = z.object({
      a: z.string().refine((v) => v !== 'x', { message: 'must not be x', params: { rule: 'not_x' } }),
      b: z.string().refine((v) => v !== 'x', 'must not be x either'),
    });
    expect(issues(schema, { a: 'x', b: 'x' })).toEqual([
      { field: 'a', rule: 'not_x', message: 'must not be x' },
      { field: 'b', rule: 'invalid', message: 'must not be x either' },
    ]);
  });

  it('names a bad record key as the field, with the words and rule of its own schema', () => {
    const headers = z.object({
      headers: z.record(
        z.string().refine((k) => !k.includes(' '), { message: 'not a valid header name', params: { rule: 'header_name' } }),
        z.string(),
      ),
    });
    const found = issues(headers, { headers: { 'X Foo': 'a', ok: 'b' } });
    expect(found).toEqual([{ field: 'headers.X Foo', rule: 'header_name', message: 'not a valid header name' }]);
    expect(issues(z.record(z.string().regex(/^\d+$/, 'must be digits'), z.number()), { a: 1 })).toEqual([
      { field: 'a', rule: 'invalid_format:regex', message: 'must be digits' },
    ]);
  });

  it('names unrecognized keys one by one, under the base path', () => {
    expect(issuesFromZod(z.strictObject({}).safeParse({ x: 1, y: 2 }).error!, ['messages', 0])).toEqual([
      { field: 'messages[0].x', rule: 'unrecognized_key', message: 'unknown field "x"' },
      { field: 'messages[0].y', rule: 'unrecognized_key', message: 'unknown field "y"' },
    ]);
  });

  it("keeps zod's codes where they say what is wrong", () => {
    expect(issues(z.object({ n: z.number().max(1) }), { n: 2 })[0]?.rule).toBe('too_big');
    expect(issues(z.object({ n: z.number() }), { n: 'x' })[0]?.rule).toBe('invalid_type');
    expect(ruleOf(z.iso.datetime().safeParse('x').error!.issues[0]!)).toBe('invalid_format:datetime');
  });
});
