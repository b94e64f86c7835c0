import type { Db } from '../db/types.js';
import { clipError } from './message.js';

export interface DeadLetter {
  id: string;
  error: string;
}

/*
 * Dead letters stay in queue_messages with status 'dead', their attempts and last error: nothing
 * is copied or deleted, so a dead letter cannot be lost between two writes, and a redrive is one
 * UPDATE. The lease check is the same as ack's.
 */
const DEAD_LETTER = `
UPDATE queue_messages AS m
JOIN JSON_TABLE(:dead, '$[*]' COLUMNS (
  id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id',
  error TEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.error'
)) AS d ON d.id = m.id
SET m.status = 'dead', m.last_error = d.error, m.finished_at = :now, m.updated_at = :now,
    m.lease_token = NULL
WHERE m.lease_token = :leaseToken AND m.status = 'running'`;

/** Returns how many messages were still held by this lease and changed. */
export async function deadLetter(db: Db, input: { leaseToken: string; dead: readonly DeadLetter[]; now: Date }): Promise<number> {
  if (input.dead.length === 0) return 0;
  const dead = input.dead.map((d) => ({ id: d.id, error: clipError(d.error) }));
  const result = await db.execute(DEAD_LETTER, { leaseToken: input.leaseToken, dead, now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { DEAD_LETTER };
