import type { Db } from '../db/types.js';

/*
 * A throttled enqueue answers later ones with the same key as duplicates for a window after the
 * first was enqueued; after it, the key is free for a new message. The stored message gives it up
 * only when it was created at or before :windowStart (now less the window), whatever its status:
 * it keeps running or waiting as it was. Of two enqueues racing here, one frees the key and the
 * unique key lets one insert in; the other is answered as its duplicate.
 *
 * Not re-sent after a lost reply: a re-send would find the key already freed and answer false.
 */
// By primary key, named: the unique dedup key matches one row too, and 10.11 took it once the
// table changed (migration 014), locking through a second index for nothing.
const RELEASE_EXPIRED_DEDUP_KEY = `
UPDATE queue_messages FORCE INDEX (PRIMARY)
SET dedup_key = NULL
WHERE id = :id AND queue = :queue AND dedup_key = :dedupKey AND created_at <= :windowStart`;

/** True when the message `id` held the key, was created at or before `windowStart`, and no longer holds the key. */
export async function releaseExpiredDedupKey(db: Db, input: { id: string; queue: string; dedupKey: string; windowStart: Date }): Promise<boolean> {
  const result = await db.execute(RELEASE_EXPIRED_DEDUP_KEY, input);
  return result.numberOfRecordsUpdated > 0;
}
