/**
 * responseBytes: the worst-case size of a row in a Data API response. The SQL builder is a pure
 * function; on the real stack its expression is evaluated over stored rows, and each row's share
 * of a real response (measured at the HTTP body, through a proxy) is held to the worst case, for
 * the content that takes the most bytes to encode and for the widest row with no text at all.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { MESSAGE_COLUMNS } from '../../lib/sql/message.js';
import {
  PAYLOAD_BYTES_PER_BYTE,
  RESPONSE_PAGE_BYTES,
  ROW_OVERHEAD_BYTES,
  TEXT_BYTES_PER_BYTE,
  WORST_ROW_BYTES_PARAMS,
  worstRowBytesSql,
} from '../../lib/sql/responseBytes.js';
import { startDataApiProxy, type DataApiProxy } from '../support/dataApiProxy.js';
import { at, idOf, insertFixtures } from '../support/statements.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from '../support/stack.js';

const stack = useStack();

describe('worstRowBytesSql', () => {
  it('is the row overhead alone with nothing to count', () => {
    expect(worstRowBytesSql({})).toBe('(:rowOverhead)');
    expect(worstRowBytesSql({ text: [] })).toBe('(:rowOverhead)');
  });

  it('adds the payload at its factor and each text column by its bytes, NULL as 0', () => {
    expect(worstRowBytesSql({ payloadBytes: 'payload_bytes' })).toBe('(:rowOverhead + :payloadFactor * payload_bytes)');
    expect(worstRowBytesSql({ text: ['last_error'] })).toBe('(:rowOverhead + :textFactor * (COALESCE(LENGTH(last_error), 0)))');
    expect(worstRowBytesSql({ payloadBytes: 'bytes', text: ['a', 'b'] })).toBe(
      '(:rowOverhead + :payloadFactor * bytes + :textFactor * (COALESCE(LENGTH(a), 0) + COALESCE(LENGTH(b), 0)))',
    );
  });

  it('has its parameters in WORST_ROW_BYTES_PARAMS, and a page leaves 32 KiB of the 1 MiB for the envelope', () => {
    expect(WORST_ROW_BYTES_PARAMS).toEqual({ rowOverhead: ROW_OVERHEAD_BYTES, payloadFactor: PAYLOAD_BYTES_PER_BYTE, textFactor: TEXT_BYTES_PER_BYTE });
    expect(1_048_576 - RESPONSE_PAGE_BYTES).toBe(32 * 1_024);
  });
});

/** The columns a dead-letter listing returns, the widest row any statement pages (lib/sql/deadLetters.ts). */
const TEXT = ['last_error', 'dedup_key', 'group_key'] as const;
const rowBytesSql = worstRowBytesSql({ payloadBytes: 'payload_bytes', text: TEXT });
const SELECT_ROWS = (ids: string) => `SELECT ${MESSAGE_COLUMNS}, ${rowBytesSql} AS row_bytes FROM queue_messages WHERE id IN (${ids}) ORDER BY id`;

const utf8 = (text: string | null | undefined) => (text == null ? 0 : Buffer.byteLength(text));
const control = (n: number) => Array.from({ length: n }, (_, i) => String.fromCharCode(1 + (i % 31))).join('');

/** Rows whose fields take the most response bytes per stored byte, each under the 64 KB row limit. */
const FIXTURES = [
  // Control characters: `\u00XX`, 6 bytes for 1 stored; the payload escapes them as JSON does.
  { id: idOf(1), lastError: control(8_000), dedupKey: control(255), groupKey: control(128), payload: JSON.stringify([control(2_000)]) },
  // Quotes and backslashes: 2 for 1; a payload of escaped quotes takes 4 for its 2.
  { id: idOf(2), lastError: '"\\'.repeat(4_000), dedupKey: '"'.repeat(255), groupKey: '\\'.repeat(128), payload: JSON.stringify(['"'.repeat(8_000)]) },
  // Non-ASCII of 2, 3 and 4 bytes.
  {
    id: idOf(3),
    lastError: 'é日😀'.repeat(1_000),
    dedupKey: '😀'.repeat(63),
    groupKey: '日'.repeat(128),
    payload: JSON.stringify({ t: 'é日😀'.repeat(1_000) }),
  },
  // No text at all, and the widest names and numbers: what the row overhead alone must cover.
  {
    id: idOf(4),
    queue: 'q'.repeat(64),
    type: 't'.repeat(128),
    payload: '{}',
    priority: -32_768,
    attempts: 4_294_967_295,
    maxAttempts: 4_294_967_295,
    status: 'cancelled' as const,
    availableAt: at(123),
    finishedAt: at(456),
  },
];

describe('the worst case on the real stack', () => {
  let proxy: DataApiProxy;
  let db: Db;
  const bodies: string[] = [];

  beforeAll(async () => {
    await insertFixtures(stack, FIXTURES);
    proxy = await startDataApiProxy(stack.endpoint, {
      answer: (operation, answer) => {
        if (operation === 'Execute') bodies.push(answer.body);
        return answer;
      },
    });
    db = createDb({ endpoint: proxy.url, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database });
  });
  afterAll(async () => {
    await proxy?.close();
  });

  /** The response body's bytes for these ids, and its rows. */
  async function response(ids: readonly string[]) {
    bodies.length = 0;
    const params = Object.fromEntries(ids.map((id, i) => [`id${i}`, id]));
    const rows = await db.query(
      SELECT_ROWS(
        Object.keys(params)
          .map((name) => `:${name}`)
          .join(', '),
      ),
      { ...params, ...WORST_ROW_BYTES_PARAMS },
    );
    expect(bodies).toHaveLength(1);
    return { bytes: Buffer.byteLength(bodies[0]!), rows };
  }

  it('evaluates to the overhead, 3 per payload byte and 6 per text byte (NULL as 0)', async () => {
    const { rows } = await response(FIXTURES.map((f) => f.id));
    expect(rows.map((row) => Number(row.row_bytes))).toEqual(
      FIXTURES.map(
        (f) => ROW_OVERHEAD_BYTES + PAYLOAD_BYTES_PER_BYTE * utf8(f.payload) + TEXT_BYTES_PER_BYTE * (utf8(f.lastError) + utf8(f.dedupKey) + utf8(f.groupKey)),
      ),
    );
  });

  it("bounds each row's share of a real response, and a page's rows sum within the page budget", async () => {
    const empty = (await response([idOf(999)])).bytes;
    for (const fixture of FIXTURES) {
      const { bytes, rows } = await response([fixture.id]);
      const worst = Number(rows[0]!.row_bytes);
      expect(bytes - empty, fixture.id).toBeLessThanOrEqual(worst);
    }
    const all = await response(FIXTURES.map((f) => f.id));
    const worst = all.rows.reduce((sum, row) => sum + Number(row.row_bytes), 0);
    expect(all.bytes - empty).toBeLessThanOrEqual(worst);
    // The envelope (column metadata and all) is what RESPONSE_PAGE_BYTES leaves room for.
    expect(empty).toBeLessThan(1_048_576 - RESPONSE_PAGE_BYTES);
  });

  it('needs its text factor: control characters take about 6 response bytes per stored byte', async () => {
    const empty = (await response([idOf(999)])).bytes;
    const { bytes } = await response([idOf(1)]);
    const text = utf8(FIXTURES[0]!.lastError) + utf8(FIXTURES[0]!.dedupKey) + utf8(FIXTURES[0]!.groupKey);
    expect(bytes - empty).toBeGreaterThan(5.5 * text);
  });
});
