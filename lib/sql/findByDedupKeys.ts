import type { Db } from '../db/types.js';

/*
 * Each key is answered by its place in the list (FOR ORDINALITY), not by its text: 500 keys of up
 * to 1,020 bytes, escaped in the response, could pass the Data API's 1 MiB; ids and numbers cannot.
 */
const FIND_BY_DEDUP_KEYS = `
SELECT m.id, k.n
FROM JSON_TABLE(:keys, '$[*]' COLUMNS (
  n         FOR ORDINALITY,
  dedup_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$'
)) AS k
JOIN queue_messages AS m ON m.queue = :queue AND m.dedup_key = k.dedup_key`;

/** The stored message id for each dedup key of a queue that has one. */
export async function findByDedupKeys(db: Db, queue: string, keys: readonly string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const rows = await db.query(FIND_BY_DEDUP_KEYS, { queue, keys: [...keys] }, { idempotent: true });
  return new Map(rows.map((row) => [keys[Number(row.n) - 1]!, row.id as string]));
}
