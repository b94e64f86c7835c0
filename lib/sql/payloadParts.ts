import type { Db } from '../db/types.js';
import { WORST_ROW_BYTES_PARAMS, worstRowBytesSql } from './responseBytes.js';

/** A slice of a large payload's JSON text. */
export interface PayloadPart {
  messageId: string;
  part: number;
  data: string;
}

/* Slices of several messages in one statement; see insertMessages for why a JSON document. */
const INSERT_PAYLOAD_PARTS = `
INSERT INTO queue_payload_parts (message_id, part, bytes, data)
SELECT j.message_id, j.part, j.bytes, j.data
FROM JSON_TABLE(:parts, '$[*]' COLUMNS (
  message_id CHAR(36)   CHARACTER SET ascii COLLATE ascii_bin     PATH '$.messageId',
  part       INT                                                  PATH '$.part',
  bytes      INT                                                  PATH '$.bytes',
  data       LONGTEXT   CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.data'
)) AS j`;

export async function insertPayloadParts(db: Db, parts: readonly PayloadPart[]): Promise<void> {
  if (parts.length === 0) return;
  const rows = parts.map((p) => ({ messageId: p.messageId, part: p.part, bytes: Buffer.byteLength(p.data, 'utf8'), data: p.data }));
  await db.execute(INSERT_PAYLOAD_PARTS, { parts: JSON.stringify(rows) });
}

/*
 * One message's slices after :afterPart, as many as their worst case in the response fits
 * :maxBytes (at least one; lib/sql/responseBytes.ts): a running sum over the slices' sizes, then
 * the text of those in the page by primary key. A slice is JSON text, counted as a payload.
 */
const sliceBytesSql = worstRowBytesSql({ payloadBytes: 'bytes' });

const READ_PAYLOAD_PARTS = `
SELECT p.part, p.data
FROM (
  SELECT part, ${sliceBytesSql} AS row_bytes, SUM(${sliceBytesSql}) OVER (ORDER BY part) AS running_bytes
  FROM queue_payload_parts
  WHERE message_id = :messageId AND part > :afterPart
) AS page
STRAIGHT_JOIN queue_payload_parts AS p FORCE INDEX (PRIMARY) ON p.message_id = :messageId AND p.part = page.part
WHERE page.running_bytes <= :maxBytes OR page.running_bytes = page.row_bytes
ORDER BY page.part`;

/**
 * A large payload's JSON text, reassembled from its slices in pages whose worst case in the
 * response fits `maxBytes` (normally RESPONSE_PAGE_BYTES).
 */
export async function readPayloadText(db: Db, messageId: string, maxBytes: number): Promise<string> {
  const slices: string[] = [];
  let afterPart = -1;
  for (;;) {
    const rows = await db.query(READ_PAYLOAD_PARTS, { messageId, afterPart, maxBytes, ...WORST_ROW_BYTES_PARAMS }, { idempotent: true });
    if (rows.length === 0) return slices.join('');
    for (const row of rows) slices.push(row.data as string);
    afterPart = Number(rows[rows.length - 1]!.part);
  }
}
