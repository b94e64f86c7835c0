import type { ColumnMetadata, Field } from '@aws-sdk/client-rds-data';
import { describe, expect, it } from 'vitest';
import { decodeField, decodeRows, formatTimestamp, insertIdOf, parseDateTime, toSqlParameter, toSqlParameters } from '../../lib/db/fields.js';

describe('toSqlParameter', () => {
  it('maps each JS type to its Field and typeHint', () => {
    expect(toSqlParameter('a', 'text')).toEqual({ name: 'a', value: { stringValue: 'text' } });
    expect(toSqlParameter('a', 42)).toEqual({ name: 'a', value: { longValue: 42 } });
    expect(toSqlParameter('a', -0.5)).toEqual({ name: 'a', value: { doubleValue: -0.5 } });
    expect(toSqlParameter('a', 2 ** 60)).toEqual({ name: 'a', value: { doubleValue: 2 ** 60 } });
    expect(toSqlParameter('a', true)).toEqual({ name: 'a', value: { booleanValue: true } });
    expect(toSqlParameter('a', 12345678901234567890n)).toEqual({ name: 'a', value: { stringValue: '12345678901234567890' } });
    expect(toSqlParameter('a', null)).toEqual({ name: 'a', value: { isNull: true } });
    expect(toSqlParameter('a', undefined)).toEqual({ name: 'a', value: { isNull: true } });
  });

  it('sends Dates as UTC TIMESTAMP text with milliseconds', () => {
    expect(toSqlParameter('at', new Date('2026-03-04T05:06:07.089Z'))).toEqual({
      name: 'at',
      value: { stringValue: '2026-03-04 05:06:07.089' },
      typeHint: 'TIMESTAMP',
    });
    expect(formatTimestamp(new Date(Date.UTC(2026, 0, 1)))).toBe('2026-01-01 00:00:00.000');
  });

  it('sends bytes as a blob and objects and arrays as JSON', () => {
    const bytes = new Uint8Array([0, 255, 7]);
    expect(toSqlParameter('b', bytes)).toEqual({ name: 'b', value: { blobValue: bytes } });
    expect(toSqlParameter('b', Buffer.from('hi')).value?.blobValue).toBeInstanceOf(Uint8Array);
    // Plain strings, never the undocumented JSON typeHint.
    expect(toSqlParameter('j', { a: [1, 'x'], b: null })).toEqual({ name: 'j', value: { stringValue: '{"a":[1,"x"],"b":null}' } });
    expect(toSqlParameter('j', ['a', 'b'])).toEqual({ name: 'j', value: { stringValue: '["a","b"]' } });
  });

  it('refuses values MySQL cannot hold', () => {
    expect(() => toSqlParameter('n', Number.NaN)).toThrow(TypeError);
    expect(() => toSqlParameter('n', Number.POSITIVE_INFINITY)).toThrow(/:n/);
    expect(() => toSqlParameter('d', new Date(Number.NaN))).toThrow(TypeError);
  });

  it('omits the parameter list when there are no parameters', () => {
    expect(toSqlParameters(undefined)).toBeUndefined();
    expect(toSqlParameters({})).toBeUndefined();
    expect(toSqlParameters({ a: 1, b: 'x' })).toEqual([
      { name: 'a', value: { longValue: 1 } },
      { name: 'b', value: { stringValue: 'x' } },
    ]);
  });
});

describe('parseDateTime', () => {
  it('reads the Data API text as UTC, whatever the fraction length', () => {
    expect(parseDateTime('2026-03-04 05:06:07').toISOString()).toBe('2026-03-04T05:06:07.000Z');
    expect(parseDateTime('2026-03-04 05:06:07.5').toISOString()).toBe('2026-03-04T05:06:07.500Z');
    expect(parseDateTime('2026-03-04 05:06:07.12').toISOString()).toBe('2026-03-04T05:06:07.120Z');
    expect(parseDateTime('2026-03-04 05:06:07.123456').toISOString()).toBe('2026-03-04T05:06:07.123Z');
    expect(parseDateTime('0050-01-01 00:00:00').toISOString()).toBe('0050-01-01T00:00:00.000Z');
  });

  it('gives an invalid Date for text that is not a datetime', () => {
    expect(Number.isNaN(parseDateTime('2026-03-04').getTime())).toBe(true);
  });
});

const column = (label: string, typeName: string, extra: Partial<ColumnMetadata> = {}): ColumnMetadata => ({ label, name: label, typeName, ...extra });

describe('decodeRows', () => {
  it('decodes by column type and keys rows by label', () => {
    const columns = [
      column('id', 'BIGINT'),
      column('created_at', 'DATETIME'),
      column('payload', 'JSON'),
      column('flag', 'BIT', { precision: 1 }),
      column('price', 'DECIMAL'),
      column('day', 'DATE'),
      column('data', 'BLOB'),
      column('missing', 'VARCHAR'),
      column('ratio', 'DOUBLE'),
    ];
    const bytes = new Uint8Array([1, 2]);
    const records: Field[][] = [
      [
        { longValue: 7 },
        { stringValue: '2026-01-02 03:04:05.678' },
        { stringValue: '{"to":"+4912","n":[1,2]}' },
        { booleanValue: true },
        { stringValue: '123456.7890' },
        { stringValue: '2026-01-02' },
        { blobValue: bytes },
        { isNull: true },
        { doubleValue: 0.25 },
      ],
    ];
    expect(decodeRows(records, columns)).toEqual([
      {
        id: 7,
        created_at: new Date('2026-01-02T03:04:05.678Z'),
        payload: { to: '+4912', n: [1, 2] },
        flag: true,
        price: '123456.7890',
        day: '2026-01-02',
        data: bytes,
        missing: null,
        ratio: 0.25,
      },
    ]);
  });

  it('treats typeName case-insensitively and a long in a BIT(1)/BOOLEAN column as a boolean', () => {
    const rows = decodeRows(
      [[{ stringValue: '2026-01-02 03:04:05' }, { longValue: 0 }, { longValue: 1 }]],
      [column('t', 'timestamp'), column('b', 'BOOLEAN'), column('bit', 'bit')],
    );
    expect(rows).toEqual([{ t: new Date('2026-01-02T03:04:05Z'), b: false, bit: true }]);
  });

  it('hands back the text of a JSON column that does not hold JSON, and keeps NULL as null', () => {
    const rows = decodeRows([[{ stringValue: 'not json' }], [{ isNull: true }]], [column('j', 'JSON')]);
    expect(rows).toEqual([{ j: 'not json' }, { j: null }]);
  });

  it('does not guess JSON from LONGTEXT (plain text that happens to parse stays text)', () => {
    expect(decodeRows([[{ stringValue: '123' }]], [column('note', 'LONGTEXT')])).toEqual([{ note: '123' }]);
  });

  it('returns no rows for absent or empty records, and keys by position without metadata', () => {
    expect(decodeRows(undefined, undefined)).toEqual([]);
    expect(decodeRows([], [column('a', 'INT')])).toEqual([]);
    expect(decodeRows([[{ longValue: 1 }, { stringValue: 'x' }]], undefined)).toEqual([{ 0: 1, 1: 'x' }]);
  });

  it('decodes array fields', () => {
    expect(decodeField({ arrayValue: { longValues: [1, 2] } })).toEqual([1, 2]);
  });
});

describe('insertIdOf', () => {
  it('reads generatedFields[0] and treats 0 as no id', () => {
    expect(insertIdOf([{ longValue: 25 }])).toBe(25);
    expect(insertIdOf([{ longValue: 0 }])).toBeUndefined();
    expect(insertIdOf([])).toBeUndefined();
    expect(insertIdOf(undefined)).toBeUndefined();
  });
});
