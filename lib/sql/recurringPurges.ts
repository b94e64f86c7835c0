import type { Db } from '../db/types.js';
import { sqlTimestamp } from './message.js';

/*
 * Per recurring entry and queue, the newest slot whose message was purged (schema/migrations/008).
 * Why this and not another record: a purge is a rare operator action, so it pays (one write), not
 * every recurring insert, as a high-water mark of enqueued slots would (a write per slot); and one
 * row per entry needs no expiry, as a tombstone per purged slot would. It also holds every slot at
 * or before the newest purged one, which only a run catching up on an outage could still want, and
 * only if the run that stored the purged slot had not stored them, which it does with it or before.
 * GREATEST, so marks written out of order or twice (a re-send after a lost reply) keep the newest.
 */
const MARK_PURGED_SLOTS = `
INSERT INTO queue_recurring_purges (queue, entry, purged_through, updated_at)
SELECT :queue, j.entry, j.slot, :now
FROM JSON_TABLE(:marks, '$[*]' COLUMNS (
  entry VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.entry',
  slot  DATETIME(3)                                        PATH '$.slot'
)) AS j
ON DUPLICATE KEY UPDATE purged_through = GREATEST(queue_recurring_purges.purged_through, j.slot), updated_at = :now`;

/**
 * Records that these slots' messages are being purged; call it before deleting them. The recurring
 * insert (lib/sql/insertRecurringMessages.ts) never stores a slot at or before its entry's mark.
 */
export async function markPurgedSlots(db: Db, input: { queue: string; slots: readonly { entry: string; slot: Date }[]; now: Date }): Promise<void> {
  const newest = new Map<string, number>();
  for (const { entry, slot } of input.slots) newest.set(entry, Math.max(slot.getTime(), newest.get(entry) ?? Number.NEGATIVE_INFINITY));
  if (newest.size === 0) return;
  const marks = [...newest].map(([entry, slot]) => ({ entry, slot: sqlTimestamp(new Date(slot)) }));
  await db.execute(MARK_PURGED_SLOTS, { queue: input.queue, marks, now: input.now }, { idempotent: true });
}

const PURGE_MARKS = `SELECT entry, purged_through FROM queue_recurring_purges WHERE queue = :queue`;

/** The queue's marks: per entry, the newest slot purged. */
export async function purgeMarks(db: Db, queue: string): Promise<Map<string, Date>> {
  const rows = await db.query<{ entry: string; purged_through: Date }>(PURGE_MARKS, { queue }, { idempotent: true });
  return new Map(rows.map((row) => [row.entry, row.purged_through]));
}

export { MARK_PURGED_SLOTS };
