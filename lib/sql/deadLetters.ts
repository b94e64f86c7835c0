import type { Db } from '../db/types.js';
import { MESSAGE_COLUMNS, toMessage, type Message } from './message.js';

const LIST_DEAD_LETTERS = `
SELECT ${MESSAGE_COLUMNS} FROM queue_messages
WHERE queue = :queue AND status = 'dead' AND id > :afterId
ORDER BY id
LIMIT :limit`;

/** Dead letters of a queue in id (enqueue) order, a page at a time. */
export async function listDeadLetters(db: Db, input: { queue: string; limit: number; afterId?: string }): Promise<Message[]> {
  const rows = await db.query(LIST_DEAD_LETTERS, { queue: input.queue, limit: input.limit, afterId: input.afterId ?? '' }, { idempotent: true });
  return rows.map(toMessage);
}

/*
 * A redriven message starts over: attempts back to 0, due now, last error kept for the record
 * until it next fails or succeeds. The LIMIT bounds how many one call releases, so a redrive of
 * thousands is spread over calls (and then over drain runs by the queue's rate limit).
 */
const REDRIVE_DEAD_LETTERS = `
UPDATE queue_messages
SET status = 'waiting', attempts = 0, available_at = :now, finished_at = NULL, lease_token = NULL,
    updated_at = :now
WHERE queue = :queue AND status = 'dead' AND (:allIds OR FIND_IN_SET(id, :ids))
ORDER BY id
LIMIT :limit`;

export interface RedriveInput {
  queue: string;
  /** Only these dead letters; all of the queue's when omitted. */
  ids?: readonly string[];
  limit: number;
  now: Date;
}

/** Returns how many dead letters went back to waiting. */
export async function redriveDeadLetters(db: Db, input: RedriveInput): Promise<number> {
  const result = await db.execute(
    REDRIVE_DEAD_LETTERS,
    { queue: input.queue, allIds: input.ids === undefined, ids: (input.ids ?? []).join(','), limit: input.limit, now: input.now },
    { idempotent: true },
  );
  return result.numberOfRecordsUpdated;
}

const PURGE_DEAD_LETTERS = `
DELETE FROM queue_messages
WHERE queue = :queue AND status = 'dead' AND (:allIds OR FIND_IN_SET(id, :ids))
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
