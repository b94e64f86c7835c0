import type { Db } from '../db/types.js';

/*
 * A debounced enqueue whose key names a message that is no longer waiting (a drain has claimed it,
 * it is retrying, or it is finished) makes a new message: the old one gives up the key first. The
 * guard is what makes the key free: not waiting. Only the key changes; the message runs or stays
 * finished as it was. Two enqueues racing here may both pass this (one frees the key, the other
 * finds it freed); the unique key then lets only one of their inserts in, and the other debounces
 * into it.
 *
 * Not re-sent after a lost reply: a re-send would find the key already freed and answer false.
 */
// By primary key, named: the unique dedup key matches one row too, and 10.11 took it once the
// table changed (migration 014), locking through a second index for nothing.
const RELEASE_STARTED_DEDUP_KEY = `
UPDATE queue_messages FORCE INDEX (PRIMARY)
SET dedup_key = NULL
WHERE id = :id AND queue = :queue AND dedup_key = :dedupKey AND status <> 'waiting'`;

/** True when the message `id` held the key, was not waiting, and no longer holds the key. */
export async function releaseStartedDedupKey(db: Db, input: { id: string; queue: string; dedupKey: string }): Promise<boolean> {
  const result = await db.execute(RELEASE_STARTED_DEDUP_KEY, input);
  return result.numberOfRecordsUpdated > 0;
}
