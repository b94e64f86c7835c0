import type { Db } from '../db/types.js';
import { JSON_RECORDS_ROW_BYTES_PARAMS, worstRowBytesSql } from './responseBytes.js';

export interface ClaimedMessage {
  id: string;
  queue: string;
  type: string;
  payload: unknown;
  /** Attempts including this one. */
  attempts: number;
  maxAttempts: number;
  priority: number;
  /** Slices of a payload too large for the row (then `payload` is null until they are read); 0 otherwise. */
  payloadParts: number;
  /** A FIFO queue's group; null otherwise. */
  groupKey: string | null;
  /** The producer's trace context as stored (lib/tracing.ts), or null. */
  traceContext: string | null;
  /**
   * With `groupNext`: the group's next two unfinished messages after this one, as the read found
   * them: the group's head and its follower once this one and every earlier one are finished
   * (lib/drain/claim.ts).
   */
  nextInGroup?: [string | null, string | null];
}

export interface ReadClaimedInput {
  leaseToken: string;
  /** Page after this id (ids are read in id order). */
  afterId?: string;
  /**
   * What one page's rows may take in the response at worst (lib/sql/responseBytes.ts): normally
   * RESPONSE_PAGE_BYTES. A page always holds at least one message.
   */
  maxBytes: number;
  /** Also read each message's next two in its group (nextInGroup): two index dives per message. */
  groupNext?: boolean;
}

/*
 * Reads a claim's messages in pages bounded by their worst-case size in the response, not only by
 * count: a batch of large payloads, or of non-ASCII text written as `\uXXXX`, would not fit one
 * response (lib/sql/responseBytes.ts; the group key and trace context are the only free text returned). The running
 * sum is computed over the claim's own rows (found through the lease index) on their ids and sizes
 * only, and the payloads are then fetched by primary key for the rows in the page: summing in a
 * derived table that also carried the payloads would copy every payload into a temporary table
 * first (npm run bench: a third of the read's cost). A row is in the page when the sum ends within
 * the budget, or when it is the first.
 *
 * The rows come as JSON records (the Data API's formatRecordsAs JSON): the drain reads every
 * message through here, and one JSON string decodes several times faster than a typed field per
 * value. Every column is text or a small integer, so nothing is lost; the payload, a JSON column,
 * comes as its text and is parsed here.
 */
const claimedRowBytesSql = worstRowBytesSql({ payloadBytes: 'payload_bytes', text: ['group_key', 'trace_context'] });

const readClaimedSql = (groupNext: boolean) => `
SELECT m.id, m.queue, m.type, m.payload, m.payload_parts, m.attempts, m.max_attempts, m.priority, m.group_key, m.trace_context${groupNext ? GROUP_NEXT : ''}
FROM (
  SELECT id, ${claimedRowBytesSql} AS row_bytes, SUM(${claimedRowBytesSql}) OVER (ORDER BY id) AS running_bytes
  FROM queue_messages
  WHERE lease_token = :leaseToken AND status = 'running' AND id > :afterId
) AS claimed
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = claimed.id
WHERE claimed.running_bytes <= :maxBytes OR claimed.running_bytes = claimed.row_bytes
ORDER BY claimed.id`;

const nextInGroup = (offset: number) => `
       (SELECT n.id FROM queue_messages AS n FORCE INDEX (ix_queue_messages_group)
        WHERE n.queue = m.queue AND n.group_head = m.group_key AND n.id > m.id
        ORDER BY n.id LIMIT 1 OFFSET ${offset})`;
const GROUP_NEXT = `,${nextInGroup(0)} AS next_id,${nextInGroup(1)} AS next_next_id`;

const READ_CLAIMED_MESSAGES = readClaimedSql(false);
const READ_CLAIMED_WITH_GROUP_NEXT = readClaimedSql(true);

export async function readClaimedMessages(db: Db, input: ReadClaimedInput): Promise<ClaimedMessage[]> {
  const rows = await db.query(
    input.groupNext === true ? READ_CLAIMED_WITH_GROUP_NEXT : READ_CLAIMED_MESSAGES,
    { leaseToken: input.leaseToken, afterId: input.afterId ?? '', maxBytes: input.maxBytes, ...JSON_RECORDS_ROW_BYTES_PARAMS },
    { idempotent: true, jsonRecords: true },
  );
  const messages = new Array<ClaimedMessage>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    // JSON records carry integers as numbers and text as strings: no conversion but the payload's.
    const message: ClaimedMessage = {
      id: row.id as string,
      queue: row.queue as string,
      type: row.type as string,
      payload: row.payload === null ? null : (JSON.parse(row.payload as string) as unknown),
      attempts: row.attempts as number,
      maxAttempts: row.max_attempts as number,
      priority: row.priority as number,
      payloadParts: (row.payload_parts as number | null) ?? 0,
      groupKey: (row.group_key as string | null) ?? null,
      traceContext: (row.trace_context as string | null) ?? null,
    };
    if (input.groupNext === true) message.nextInGroup = [(row.next_id as string | null) ?? null, (row.next_next_id as string | null) ?? null];
    messages[i] = message;
  }
  return messages;
}

export { READ_CLAIMED_MESSAGES, READ_CLAIMED_WITH_GROUP_NEXT };
