import type { Db } from '../db/types.js';

export interface ClaimedMessage {
  id: string;
  queue: string;
  type: string;
  payload: unknown;
  /** Attempts including this one. */
  attempts: number;
  maxAttempts: number;
  priority: number;
}

export interface ReadClaimedInput {
  leaseToken: string;
  /** Page after this id (ids are read in id order). */
  afterId?: string;
  /**
   * Payload bytes one page may carry. The Data API ends a call whose response passes 1 MiB, and
   * JSON text can grow when encoded as a string value (quotes escaped), so keep this well under
   * half of that. A page always holds at least one message.
   */
  maxBytes: number;
}

/*
 * Reads a claim's messages in pages bounded by payload bytes, not only by count: a batch of
 * maximum-size payloads would not fit one response. The running sum is computed over the claim's
 * own rows (found through the lease index), and a row is in the page when it starts below the
 * budget, so the first row is always returned. Each row also counts 512 bytes for its other
 * columns and the response's per-field wrapping, so a large batch of tiny payloads cannot pass
 * the limit either.
 */
const READ_CLAIMED_MESSAGES = `
SELECT id, queue, type, payload, attempts, max_attempts, priority
FROM (
  SELECT id, queue, type, payload, attempts, max_attempts, priority, payload_bytes,
         SUM(payload_bytes + 512) OVER (ORDER BY id) AS running_bytes
  FROM queue_messages
  WHERE lease_token = :leaseToken AND status = 'running' AND id > :afterId
) AS claimed
WHERE running_bytes - (payload_bytes + 512) < :maxBytes
ORDER BY id`;

export async function readClaimedMessages(db: Db, input: ReadClaimedInput): Promise<ClaimedMessage[]> {
  const rows = await db.query(
    READ_CLAIMED_MESSAGES,
    { leaseToken: input.leaseToken, afterId: input.afterId ?? '', maxBytes: input.maxBytes },
    { idempotent: true },
  );
  return rows.map((row) => ({
    id: row.id as string,
    queue: row.queue as string,
    type: row.type as string,
    payload: row.payload,
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    priority: Number(row.priority),
  }));
}

export { READ_CLAIMED_MESSAGES };
