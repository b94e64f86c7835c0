import mysql from 'mysql2';
import { describe, expect, it } from 'vitest';
import { DataApiError } from '../../../dev/data-api/errors.js';
import { bindParameters, parseSql, type SqlParameter } from '../../../dev/data-api/parameters.js';

const bind = (sql: string, parameters: SqlParameter[]) => bindParameters(parseSql(sql), parameters);

describe('parseSql', () => {
  it('finds :names and puts a placeholder in their place', () => {
    expect(parseSql('insert into t values (:id, :val)')).toEqual({ sql: 'insert into t values (?, ?)', names: ['id', 'val'] });
  });

  it('takes names of letters, digits and underscores, leading digits included', () => {
    expect(parseSql('select :0, :1, :_x, :a1_b, :2nd').names).toEqual(['0', '1', '_x', 'a1_b', '2nd']);
    expect(parseSql('select :a-b, : c, :$d').names).toEqual(['a']);
  });

  it('ignores colons inside literals, quoted identifiers and comments', () => {
    const sql = `select ':a', "b:c", \`d:e\`, 'it''s :f', 'x\\':g' -- :h
      # :i
      /* :j */ from t where x = :k and y = '12:30:00'`;
    expect(parseSql(sql).names).toEqual(['k']);
  });

  it('skips :: casts and := assignments', () => {
    expect(parseSql('select a::text, @v := 1, :p').names).toEqual(['p']);
  });

  it('treats --x as an operator, not a comment, as MySQL does', () => {
    expect(parseSql('select 1--:n').names).toEqual(['n']);
  });
});

describe('bindParameters', () => {
  it('binds each Field member as a typed value, never as SQL text', () => {
    const values = bind('select :n, :b, :l, :d, :s, :x', [
      { name: 'n', value: { isNull: true } },
      { name: 'b', value: { booleanValue: false } },
      { name: 'l', value: { longValue: -42 } },
      { name: 'd', value: { doubleValue: 1.5 } },
      { name: 's', value: { stringValue: "it's \\ here" } },
      { name: 'x', value: { blobValue: Buffer.from([0, 255]).toString('base64') } },
    ]);
    expect(values).toEqual([
      null,
      { type: mysql.Types.TINY, value: 0n, unsigned: false },
      { type: mysql.Types.LONGLONG, value: -42n, unsigned: false },
      { type: mysql.Types.DOUBLE, value: 1.5, unsigned: false },
      "it's \\ here",
      Buffer.from([0, 255]),
    ]);
  });

  it('binds a name used twice and ignores unused parameters', () => {
    const values = bind('select :a + :a', [
      { name: 'a', value: { stringValue: '2' } },
      { name: 'unused', value: { longValue: 3 } },
    ]);
    expect(values).toEqual(['2', '2']);
  });

  it('binds DECIMAL hints as DECIMAL and dates as their text', () => {
    expect(bind('select :d', [{ name: 'd', value: { stringValue: '123.4500' }, typeHint: 'DECIMAL' }])).toEqual([
      { type: mysql.Types.NEWDECIMAL, value: '123.4500', unsigned: false },
    ]);
    expect(bind('select :t', [{ name: 't', value: { stringValue: '2024-01-02 03:04:05.123' }, typeHint: 'TIMESTAMP' }])).toEqual(['2024-01-02 03:04:05.123']);
  });

  it.each([
    ['TIMESTAMP', '2024-01-02 03:04:05.123456789', '2024-01-02T03:04:05Z', /Timestamp format/],
    ['TIMESTAMP', '2024-02-29 23:59:59', '2023-02-29 00:00:00', /Timestamp format/],
    ['DATE', '2000-02-29', '2026-13-45', /Date format/],
    ['DATE', '2026-12-31', '2024-1-2', /Date format/],
    ['TIME', '23:59:59.999', '25:99:99', /Time format/],
    ['TIME', '00:00:00', '3:04', /Time format/],
    ['DECIMAL', '-1.5e3', '1; drop table t', /Decimal format/],
    ['UUID', '123E4567-e89b-12d3-a456-426614174000', 'not-a-uuid', /UUID format/],
    ['JSON', '{"a":[1,null]}', '{"a":', /JSON value/],
  ])('validates %s: accepts %s, refuses %s', (typeHint, good, bad, message) => {
    expect(() => bind('select :v', [{ name: 'v', value: { stringValue: good }, typeHint }])).not.toThrow();
    const refuse = () => bind('select :v', [{ name: 'v', value: { stringValue: bad }, typeHint }]);
    expect(refuse).toThrow(DataApiError);
    expect(refuse).toThrow(message);
    expect(refuse).toThrow(/^Parameter v: /);
  });

  it('names a missing parameter', () => {
    expect(() => bind('select :missing', [])).toThrow('No value specified for parameter: missing');
  });

  it('refuses array values', () => {
    expect(() => bind('select :a', [{ name: 'a', value: { arrayValue: { longValues: [1] } } }])).toThrow('Array parameters are not supported.');
  });
});
