import type { Db } from '../db/types.js';
import type { NewMessage } from './insertMessages.js';

/*
 * A debounced enqueue whose key names a message still waiting gives it the new payload, priority,
 * attempts and due time: the last one wins. Only a waiting message: once a drain has claimed it,
 * the payload it runs is fixed, and the enqueue makes a new message instead (releaseStartedDedupKey).
 * The row lock orders concurrent debounces, and a claim that took the row first leaves it running,
 * so this matches nothing. dedup_hits always changes, so a repeat of the same values still counts
 * as a changed row whether or not the connection counts found rows. The group stays the stored
 * one: moving a waiting message to another group would break that group's order.
 *
 * Not re-sent after a lost reply: the message may have been claimed in between, and the re-send
 * would then answer "not waiting" for a payload that was taken. The enqueue fails instead and its
 * caller sends it again, which ends the same way (the last payload wins).
 */
// By primary key, named: the unique dedup key matches one row too, and 10.11 took it once the
// table changed (migration 014), locking through a second index for nothing.
const DEBOUNCE_WAITING = `
UPDATE queue_messages FORCE INDEX (PRIMARY)
SET type = :type, payload = :payload, payload_bytes = :payloadBytes, payload_parts = :payloadParts, priority = :priority,
    max_attempts = :maxAttempts, available_at = :availableAt, trace_context = :traceContext,
    dedup_hits = dedup_hits + 1, updated_at = :now
WHERE id = :id AND queue = :queue AND dedup_key = :dedupKey AND status = 'waiting'`;

/**
 * Gives the waiting message `id` (holding `message`'s dedup key) `message`'s payload and the rest;
 * true when it was still waiting and now carries them.
 */
export async function debounceWaiting(db: Db, id: string, message: NewMessage, now: Date): Promise<boolean> {
  const result = await db.execute(DEBOUNCE_WAITING, {
    id,
    queue: message.queue,
    dedupKey: message.dedupKey,
    type: message.type,
    payload: message.payloadJson,
    payloadBytes: Buffer.byteLength(message.payloadJson, 'utf8'),
    payloadParts: message.parts?.length ?? 0,
    priority: message.priority,
    maxAttempts: message.maxAttempts,
    availableAt: message.availableAt,
    traceContext: message.traceContext ?? null,
    now,
  });
  return result.numberOfRecordsUpdated > 0;
}
