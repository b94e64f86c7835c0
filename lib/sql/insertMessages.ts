import type { Db } from '../db/types.js';
import { sqlTimestamp } from './message.js';

export interface NewMessage {
  id: string;
  queue: string;
  type: string;
  /** The payload's JSON text, exactly as it will be stored. */
  payloadJson: string;
  priority: number;
  maxAttempts: number;
  availableAt: Date;
  dedupKey: string | null;
  /** A FIFO queue's group; absent or null: none. */
  groupKey?: string | null;
  /** The producer's trace context in its stored form (lib/tracing.ts); absent or null: none. */
  traceContext?: string | null;
  /** Its turn within its group on a fair queue (lib/sql/fairRounds.ts); absent or null: none. */
  fairRound?: number | null;
  /**
   * A payload too large for the row: its JSON text in slices (inserted by insertPayloadParts);
   * `payloadJson` is then `null`. Empty or absent: the payload is in the row.
   */
  parts?: readonly string[];
}

/** A message of a batch as JSON_TABLE columns (`messageRow` makes the JSON); shared with insertRecurringMessages. */
export const MESSAGE_ROW_COLUMNS = `
  id            CHAR(36)     CHARACTER SET ascii COLLATE ascii_bin PATH '$.id',
  queue         VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin PATH '$.queue',
  type          VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin PATH '$.type',
  payload       LONGTEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.payload',
  payload_bytes INT                                                PATH '$.payloadBytes',
  payload_parts INT                                                PATH '$.payloadParts',
  priority      INT                                                PATH '$.priority',
  max_attempts  INT                                                PATH '$.maxAttempts',
  available_at  DATETIME(3)                                        PATH '$.availableAt',
  dedup_key     VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.dedupKey',
  group_key     VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.groupKey',
  trace_context VARCHAR(568) CHARACTER SET ascii COLLATE ascii_bin PATH '$.traceContext',
  fair_round    BIGINT UNSIGNED                                    PATH '$.fairRound'`;

/** The insert of the rows `MESSAGE_ROW_COLUMNS` reads, as JSON_TABLE `j`, up to its FROM. */
export const INSERT_MESSAGE_ROWS = `
INSERT INTO queue_messages
  (id, queue, type, payload, payload_bytes, payload_parts, status, priority, attempts, max_attempts, available_at,
   dedup_key, group_key, group_head, trace_context, fair_round, created_at, updated_at)
SELECT j.id, j.queue, j.type, j.payload, j.payload_bytes, j.payload_parts, 'waiting', j.priority, 0, j.max_attempts,
       j.available_at, j.dedup_key, j.group_key, j.group_key, j.trace_context, j.fair_round, :now, :now`;

/*
 * The whole batch travels as one JSON parameter and is inserted by one statement, so a batch of
 * any size is one Data API call, atomic (stored whole or not at all), and the SQL text stays
 * constant instead of growing a placeholder group per message.
 *
 * A repeated (queue, dedup_key) must not fail the batch: ON DUPLICATE KEY UPDATE counts the hit
 * instead. MySQL reports 1 affected row per insert and 2 per changed duplicate, whether or not the
 * connection counts found rows (the Data API's JDBC default), so duplicates = affected - batch size.
 */
const INSERT_MESSAGES = `${INSERT_MESSAGE_ROWS}
FROM JSON_TABLE(:messages, '$[*]' COLUMNS (${MESSAGE_ROW_COLUMNS})) AS j
ON DUPLICATE KEY UPDATE queue_messages.dedup_hits = queue_messages.dedup_hits + 1`;

/*
 * One message: the same row and duplicate rule as INSERT_MESSAGES with plain VALUES. A single
 * enqueue is the common call, and JSON_TABLE's parse of a one-row document and its column
 * conversions cost the database more than the row itself (npm run bench, single insert).
 */
const INSERT_MESSAGE = `
INSERT INTO queue_messages
  (id, queue, type, payload, payload_bytes, payload_parts, status, priority, attempts, max_attempts, available_at,
   dedup_key, group_key, group_head, trace_context, fair_round, created_at, updated_at)
VALUES (:id, :queue, :type, :payload, :payloadBytes, :payloadParts, 'waiting', :priority, 0, :maxAttempts, :availableAt,
        :dedupKey, :groupKey, :groupKey, :traceContext, :fairRound, :now, :now)
ON DUPLICATE KEY UPDATE dedup_hits = dedup_hits + 1`;

export interface InsertResult {
  /** How many of the given messages were already stored under their dedup key. */
  duplicates: number;
}

/** A message's columns as the statements name them. */
function columns(m: NewMessage) {
  return {
    id: m.id,
    queue: m.queue,
    type: m.type,
    // JSON text, not a nested document: both engines then store the exact text, scalars included.
    payload: m.payloadJson,
    payloadBytes: Buffer.byteLength(m.payloadJson, 'utf8'),
    payloadParts: m.parts?.length ?? 0,
    priority: m.priority,
    maxAttempts: m.maxAttempts,
  };
}

export async function insertMessages(db: Db, messages: readonly NewMessage[], now: Date): Promise<InsertResult> {
  if (messages.length === 0) return { duplicates: 0 };
  if (messages.length === 1) {
    const [m] = messages as [NewMessage];
    const result = await db.execute(INSERT_MESSAGE, {
      ...columns(m),
      availableAt: m.availableAt,
      dedupKey: m.dedupKey,
      groupKey: m.groupKey ?? null,
      traceContext: m.traceContext ?? null,
      fairRound: m.fairRound ?? null,
      now,
    });
    return { duplicates: Math.max(0, result.numberOfRecordsUpdated - 1) };
  }
  const result = await db.execute(INSERT_MESSAGES, { messages: messages.map(messageRow), now });
  return { duplicates: Math.max(0, result.numberOfRecordsUpdated - messages.length) };
}

/** A message as a JSON document row of MESSAGE_ROW_COLUMNS. */
export function messageRow(m: NewMessage) {
  return {
    ...columns(m),
    // Inside a JSON document, a date is text in the column's own format.
    availableAt: sqlTimestamp(m.availableAt),
    // Left out rather than null: a missing path is NULL in both engines, while JSON null becoming
    // SQL NULL depends on a MySQL fix whose version is not pinned.
    ...(m.dedupKey === null ? {} : { dedupKey: m.dedupKey }),
    ...(m.groupKey == null ? {} : { groupKey: m.groupKey }),
    ...(m.traceContext == null ? {} : { traceContext: m.traceContext }),
    ...(m.fairRound == null ? {} : { fairRound: m.fairRound }),
  };
}
