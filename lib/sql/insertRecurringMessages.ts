import type { Db } from '../db/types.js';
import { sqlTimestamp } from './message.js';
import { INSERT_MESSAGE_ROWS, MESSAGE_ROW_COLUMNS, messageRow, type NewMessage } from './insertMessages.js';

export interface RecurringMessage {
  message: NewMessage;
  /** The recurring entry's name and the slot the message is for. */
  entry: string;
  slot: Date;
}

const SLOT_ROWS = `JSON_TABLE(:messages, '$[*]' COLUMNS (${MESSAGE_ROW_COLUMNS},
  entry         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.entry',
  slot          DATETIME(3)                                        PATH '$.slot'
))`;

/*
 * The insert of enqueue (lib/sql/insertMessages.ts), refused whole when a slot of the batch is at
 * or before the newest purged slot of its entry (lib/sql/recurringPurges.ts): that slot's message
 * was stored once and purged, which freed its dedup key.
 *
 * Checked in the insert, not by a read before it, so a run makes no call more, and a purge landing
 * between a read and the insert cannot slip through: the purge writes its mark before it deletes,
 * and INSERT … SELECT reads the marks with shared locks (REPEATABLE READ, the default of Aurora
 * MySQL and MariaDB), so the insert either sees the mark or collides with the message still there.
 *
 * Refused whole, not filtered row by row, so the affected rows still tell inserts from duplicates
 * (1 per insert, 2 per duplicate, and a filtered row would count 0): 0 affected rows for a
 * non-empty batch can only mean refused. The caller then reads the marks and sends the rest.
 */
const INSERT_RECURRING_MESSAGES = `${INSERT_MESSAGE_ROWS}
FROM ${SLOT_ROWS} AS j
WHERE NOT EXISTS (
  SELECT 1 FROM ${SLOT_ROWS} AS purged
  STRAIGHT_JOIN queue_recurring_purges AS p ON p.queue = purged.queue AND p.entry = purged.entry
  WHERE p.purged_through >= purged.slot
)
ON DUPLICATE KEY UPDATE queue_messages.dedup_hits = queue_messages.dedup_hits + 1`;

/**
 * Stores the slots' messages in one call, all or none: returns how many were already stored
 * (duplicates), or `undefined` when the batch holds a purged slot and nothing was stored.
 */
export async function insertRecurringMessages(db: Db, items: readonly RecurringMessage[], now: Date): Promise<{ duplicates: number } | undefined> {
  if (items.length === 0) return { duplicates: 0 };
  const messages = items.map((item) => ({ ...messageRow(item.message), entry: item.entry, slot: sqlTimestamp(item.slot) }));
  const { numberOfRecordsUpdated } = await db.execute(INSERT_RECURRING_MESSAGES, { messages, now });
  if (numberOfRecordsUpdated === 0) return undefined;
  return { duplicates: Math.max(0, numberOfRecordsUpdated - items.length) };
}

export { INSERT_RECURRING_MESSAGES };
