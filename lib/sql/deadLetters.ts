import type { Db } from '../db/types.js';
import { MESSAGE_COLUMNS, toMessage, type Message } from './message.js';

/*
 * Every statement here finds dead letters through `dead_queue` (the queue's name while a message
 * is dead, NULL otherwise) and its index, in id order, never through the finished history.
 *
 * Dead letters carry their payloads, so a page is cut by bytes as well as by count: 50 dead
 * letters of 60 KiB would pass the Data API's 1 MiB response limit. The window sums each row's
 * variable bytes over the page's own rows (at most :pageRows, one more than asked, which tells
 * whether more follow); a row is kept when it starts below the budget, so a page always holds
 * one. Count and sum travel back on every row.
 */
const LIST_DEAD_LETTERS = `
SELECT * FROM (
  SELECT page.*,
         SUM(row_bytes) OVER (ORDER BY id) AS running_bytes,
         COUNT(*) OVER () AS page_rows
  FROM (
    SELECT ${MESSAGE_COLUMNS},
           payload_bytes + COALESCE(LENGTH(last_error), 0) + COALESCE(LENGTH(dedup_key), 0) AS row_bytes
    FROM queue_messages
    WHERE dead_queue = :queue AND id > :afterId
    ORDER BY id
    LIMIT :pageRows
  ) AS page
) AS sized
WHERE running_bytes - row_bytes < :maxBytes
ORDER BY id
LIMIT :limit`;

export interface DeadLetterPage {
  messages: Message[];
  /** More dead letters follow the last one returned. */
  more: boolean;
}

/**
 * Dead letters of a queue in id (enqueue) order, a page at a time: at most `limit`, and only as
 * many as start within `maxBytes` of payload, error and key text (at least one).
 */
export async function listDeadLetters(
  db: Db,
  input: { queue: string; limit: number; afterId?: string; maxBytes: number },
): Promise<DeadLetterPage> {
  const rows = await db.query(
    LIST_DEAD_LETTERS,
    { queue: input.queue, afterId: input.afterId ?? '', pageRows: input.limit + 1, limit: input.limit, maxBytes: input.maxBytes },
    { idempotent: true },
  );
  const pageRows = rows.length === 0 ? 0 : Number(rows[0]!.page_rows);
  return { messages: rows.map(toMessage), more: pageRows > rows.length };
}

/*
 * A redriven message starts over: attempts back to 0, due now, last error kept for the record
 * until it next fails or succeeds. The LIMIT bounds how many one call releases, so a redrive of
 * thousands is spread over calls (and then over drain runs by the queue's rate limit).
 *
 * A message of a FIFO group leads its group again (lib/sql/claimGroupHeads.ts), but becomes due
 * only `groupedAvailableAt` (a lease) from now: a later message of its group may be in flight
 * right now, and must end, or its lease must, before the redriven one runs.
 */
const REDRIVE_DEAD_LETTERS = `
UPDATE queue_messages
SET status = 'waiting', attempts = 0, available_at = IF(group_key IS NULL, :now, :groupedAvailableAt), finished_at = NULL,
    group_head = group_key, lease_token = NULL, updated_at = :now
WHERE dead_queue = :queue AND (:allIds OR FIND_IN_SET(id, :ids))
ORDER BY id
LIMIT :limit`;

export interface RedriveInput {
  queue: string;
  /** Only these dead letters; all of the queue's when omitted. */
  ids?: readonly string[];
  limit: number;
  now: Date;
  /** When a redriven message of a FIFO group becomes due: a lease after now. */
  groupedAvailableAt: Date;
}

/** Returns how many dead letters went back to waiting. */
export async function redriveDeadLetters(db: Db, input: RedriveInput): Promise<number> {
  const result = await db.execute(
    REDRIVE_DEAD_LETTERS,
    { queue: input.queue, allIds: input.ids === undefined, ids: (input.ids ?? []).join(','), limit: input.limit, now: input.now, groupedAvailableAt: input.groupedAvailableAt },
    { idempotent: true },
  );
  return result.numberOfRecordsUpdated;
}

const PURGE_DEAD_LETTERS = `
DELETE FROM queue_messages
WHERE dead_queue = :queue AND (:allIds OR FIND_IN_SET(id, :ids))
ORDER BY id
LIMIT :limit`;

/** Deletes dead letters for good, at most `limit` per call; returns how many. */
export async function purgeDeadLetters(db: Db, input: { queue: string; ids?: readonly string[]; limit: number }): Promise<number> {
  const result = await db.execute(
    PURGE_DEAD_LETTERS,
    { queue: input.queue, allIds: input.ids === undefined, ids: (input.ids ?? []).join(','), limit: input.limit },
    { idempotent: true },
  );
  return result.numberOfRecordsUpdated;
}
