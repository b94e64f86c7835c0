import { describe, expect, it } from 'vitest';
import { DataApiError } from '../../../dev/data-api/errors.js';
import { bindParameters, parseSql, type SqlParameter } from '../../../dev/data-api/parameters.js';

const bind = (sql: string, parameters: SqlParameter[]) => bindParameters(parseSql(sql), parameters);

describe('parseSql', () => {
  it('finds :names and splits the text around them', () => {
    expect(parseSql('insert into t values (:id, :val)')).toEqual({ parts: ['insert into t values (', ', ', ')'], names: ['id', 'val'] });
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
  it('renders each Field member as a literal', () => {
    const sql = bind('select :n, :b, :l, :d, :s, :x', [
      { name: 'n', value: { isNull: true } },
      { name: 'b', value: { booleanValue: false } },
      { name: 'l', value: { longValue: -42 } },
      { name: 'd', value: { doubleValue: 1.5 } },
      { name: 's', value: { stringValue: "it's \\ here" } },
      { name: 'x', value: { blobValue: Buffer.from([0, 255]).toString('base64') } },
    ]);
    expect(sql).toBe("select NULL, FALSE, -42, 1.5, 'it\\'s \\\\ here', X'00ff'");
  });

  it('binds a name used twice and ignores unused parameters', () => {
    expect(bind('select :a + :a', [{ name: 'a', value: { longValue: 2 } }, { name: 'unused', value: { longValue: 3 } }])).toBe('select 2 + 2');
  });

  it('passes DECIMAL hints as numbers and validates date formats', () => {
    expect(bind('select :d', [{ name: 'd', value: { stringValue: '123.4500' }, typeHint: 'DECIMAL' }])).toBe('select 123.4500');
    expect(bind('select :t', [{ name: 't', value: { stringValue: '2024-01-02 03:04:05.123' }, typeHint: 'TIMESTAMP' }])).toBe("select '2024-01-02 03:04:05.123'");
    expect(() => bind('select :t', [{ name: 't', value: { stringValue: '2024-01-02T03:04:05Z' }, typeHint: 'TIMESTAMP' }])).toThrow(DataApiError);
    expect(() => bind('select :t', [{ name: 't', value: { stringValue: '2024-1-2' }, typeHint: 'DATE' }])).toThrow(/Date format/);
    expect(() => bind('select :t', [{ name: 't', value: { stringValue: '3:04' }, typeHint: 'TIME' }])).toThrow(/Time format/);
    expect(() => bind('select :d', [{ name: 'd', value: { stringValue: '1; drop table t' }, typeHint: 'DECIMAL' }])).toThrow(DataApiError);
  });

  it('names a missing parameter', () => {
    expect(() => bind('select :missing', [])).toThrow('No value specified for parameter: missing');
  });

  it('refuses array values', () => {
    expect(() => bind('select :a', [{ name: 'a', value: { arrayValue: { longValues: [1] } } }])).toThrow('Array parameters are not supported.');
  });
});
