import type { Db } from '../db/types.js';
import type { MessageStatus } from './message.js';

/*
 * A debounced or throttled enqueue that hit stored keys reads what it decides on: whether the
 * holder still waits (debounce), when it was created (throttle), whether its payload is in slices
 * (a debounce replaces them). The writes that follow are guarded by the same conditions, so a
 * holder that changed since this read is never overwritten on its strength. Keys are answered by
 * their place in the list, as in findByDedupKeys.
 */
const FIND_DEDUP_HOLDERS = `
SELECT k.n, m.id, m.status, m.created_at, m.payload_parts
FROM JSON_TABLE(:keys, '$[*]' COLUMNS (
  n         FOR ORDINALITY,
  dedup_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$'
)) AS k
JOIN queue_messages AS m ON m.queue = :queue AND m.dedup_key = k.dedup_key`;

/** The stored message holding a dedup key, as a debounce or throttle decides on it. */
export interface DedupHolder {
  id: string;
  status: MessageStatus;
  createdAt: Date;
  /** Slices of its payload (queue_payload_parts); 0: the payload is in the row. */
  payloadParts: number;
}

/** The message holding each dedup key of a queue that has one. */
export async function findDedupHolders(db: Db, queue: string, keys: readonly string[]): Promise<Map<string, DedupHolder>> {
  if (keys.length === 0) return new Map();
  const rows = await db.query(FIND_DEDUP_HOLDERS, { queue, keys: [...keys] }, { idempotent: true });
  return new Map(
    rows.map((row) => [
      keys[Number(row.n) - 1]!,
      { id: row.id as string, status: row.status as MessageStatus, createdAt: row.created_at as Date, payloadParts: Number(row.payload_parts) },
    ]),
  );
}
