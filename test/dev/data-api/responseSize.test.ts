/**
 * The 1 MiB response limit, counted as AWS may encode the response: nothing documents whether the
 * Data API writes non-ASCII characters as `\uXXXX`, so the local server counts them so (6 bytes per
 * UTF-16 unit) and a read that fits here fits either way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, startConformance, type Conformance } from './support.js';

let api: Conformance;
beforeAll(async () => {
  api = await startConformance();
});
afterAll(async () => {
  await api?.close();
});

/** `rows` rows of `text` repeated `times` (one parameter: no non-ASCII in the SQL text). */
const repeated = (rows: number, text: string, times: number) =>
  api.execute('WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows) SELECT i, REPEAT(:text, :times) FROM n', {
    rows: { longValue: rows },
    text: { stringValue: text },
    times: { longValue: times },
  });

describe('the 1 MiB response limit', () => {
  // 12,000 units of 6 bytes each are 72,000 bytes a row: 14 rows are 1,008,000 bytes and some
  // wrapping, 15 are 1,080,000. As plain UTF-8, 15 rows of 'é' are only 360,000.
  it.each([
    ['é (2 bytes stored, \\u00e9)', 'é', 12_000],
    ['中 (3 bytes stored, \\u4e2d)', '中', 12_000],
    ['an emoji (4 bytes stored, two \\uXXXX)', '😀', 6_000],
    ['a control character (1 byte stored, \\u0001)', '\u0001', 12_000],
  ])('counts %s at its escaped size', async (_, text, times) => {
    const fits = await repeated(14, text, times);
    expect(fits.records).toHaveLength(14);
    expect(fits.records![0]![1]!.stringValue).toBe(text.repeat(times));
    const error = await failure(repeated(15, text, times));
    expect(error.name).toBe('BadRequestException');
    expect(error.message).toBe('Database response exceeded size limit');
  });

  it('counts ASCII as JSON writes it', async () => {
    // Rows of 36,000 quotes are 72,000 bytes escaped (2 each): 14 fit, 15 do not. Plain letters
    // count 1 each: 29 rows of 36,000 are 1,044,000 bytes and fit, 30 do not.
    expect((await repeated(14, '"', 36_000)).records).toHaveLength(14);
    await expect(repeated(15, '"', 36_000)).rejects.toThrow('Database response exceeded size limit');
    expect((await repeated(29, 'x', 36_000)).records).toHaveLength(29);
    await expect(repeated(30, 'x', 36_000)).rejects.toThrow('Database response exceeded size limit');
  });
});
