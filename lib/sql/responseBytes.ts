/*
 * The worst-case size of a row in a Data API response, for reads that return payloads or free
 * text in bulk. The Data API ends a call whose response passes 1 MiB, and nothing documents how it
 * encodes strings: JSON escapes a quote or a backslash (2 bytes) and a control character
 * (`\u00XX`, 6), and an encoder may also write every non-ASCII character as `\uXXXX` (6 bytes for
 * 2 stored, 12 for 4). A page is cut by every row's worst case, so it fits whichever AWS does.
 *
 * A statement sums worstRowBytesSql over its rows in id order and keeps a row when the sum ends
 * within the budget, or when it is the page's first (one row alone stays far below 1 MiB: see
 * ENQUEUE_LIMITS.maxInlinePayloadBytes for the largest row).
 */

/**
 * What one page's rows may take: the Data API's 1 MiB, less room for what a response carries
 * once, its column metadata and envelope (about 5 KB for 19 columns on the local server).
 */
export const RESPONSE_PAGE_BYTES = 1_048_576 - 32 * 1_024;

/**
 * Free text (errors, dedup and group keys), in response bytes per stored byte: 6, JSON's longest
 * escape of one byte (`\u00XX`, a control character). It also covers a quote or a backslash (2)
 * and a non-ASCII character written as `\uXXXX` (6 bytes for 2 stored, 12 for 4).
 */
export const TEXT_BYTES_PER_BYTE = 6;

/**
 * A payload, which is JSON text: 3. JSON holds no raw control character, so the worst is a
 * non-ASCII character written as `\uXXXX` (3 per stored byte); a quote or a backslash takes 2, and
 * so does a `,` or `:` after which MySQL's re-serialized JSON adds a space.
 */
export const PAYLOAD_BYTES_PER_BYTE = 3;

/**
 * What every row takes besides the text counted above: up to 19 values, each wrapped as
 * `{"stringValue":"…"},` or `{"longValue":…},` (ids, statuses, numbers, timestamps, the sums),
 * about 500 bytes on the local server with every number at its widest, and the queue's and type's
 * names: ASCII identifiers of at most 64 and 128 characters that JSON never escapes
 * (schema/messages.ts). Counted as 1 KiB.
 */
export const ROW_OVERHEAD_BYTES = 1_024;

/** The parameters worstRowBytesSql's expression reads: spread them into the statement's. */
export const WORST_ROW_BYTES_PARAMS = {
  rowOverhead: ROW_OVERHEAD_BYTES,
  payloadFactor: PAYLOAD_BYTES_PER_BYTE,
  textFactor: TEXT_BYTES_PER_BYTE,
} as const;

/**
 * The same for a read whose rows come as `formattedRecords` (formatRecordsAs JSON): each value is
 * JSON text inside a JSON string, escaped once more in the response. The API model caps that field
 * at 10 MB, which a page budgeted as above never nears; should the 1 MiB response limit count the
 * twice-escaped text instead, a quote costs 4 bytes (payload: 4 per stored byte) and a control
 * character 7 (`\\u00XX`), and these factors keep a page within it either way.
 */
export const JSON_RECORDS_ROW_BYTES_PARAMS = {
  rowOverhead: ROW_OVERHEAD_BYTES,
  payloadFactor: PAYLOAD_BYTES_PER_BYTE + 1,
  textFactor: TEXT_BYTES_PER_BYTE + 1,
} as const;

/**
 * SQL for one row's worst-case bytes in the response, from what is stored: `payloadBytes`, an
 * expression for the bytes of JSON text the row returns (queue_messages.payload_bytes counts the
 * row's own text: 4, `null`, when the payload is in slices), and `text`, the free-text columns it
 * returns (LENGTH is their UTF-8 bytes; NULL counts 0).
 */
export function worstRowBytesSql(input: { payloadBytes?: string; text?: readonly string[] }): string {
  const payload = input.payloadBytes === undefined ? '' : ` + :payloadFactor * ${input.payloadBytes}`;
  const text =
    input.text === undefined || input.text.length === 0 ? '' : ` + :textFactor * (${input.text.map((column) => `COALESCE(LENGTH(${column}), 0)`).join(' + ')})`;
  return `(:rowOverhead${payload}${text})`;
}
