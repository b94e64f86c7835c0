import type { Db } from '../db/types.js';

/*
 * A debounced enqueue that gives a waiting message a new large payload replaces its slices: the
 * old ones go first, in the same transaction as the row's update and the new slices' insert.
 */
const DELETE_PAYLOAD_PARTS = `
DELETE FROM queue_payload_parts
WHERE message_id = :messageId`;

/** Deletes every slice of one message's payload; answers how many. */
export async function deletePayloadParts(db: Db, messageId: string): Promise<number> {
  const result = await db.execute(DELETE_PAYLOAD_PARTS, { messageId }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}
