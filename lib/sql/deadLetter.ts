import type { Db } from '../db/types.js';
import type { HeldMessage } from './heldMessage.js';
import { clipError } from './message.js';

export interface HeldDeadLetter extends HeldMessage {
  error: string;
}

/* Dead letters of any number of claims in one statement; see ack and deadLetter. */
const DEAD_LETTER = `
UPDATE JSON_TABLE(:dead, '$[*]' COLUMNS (
  id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id',
  lease_token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.leaseToken',
  attempts    INT                                          PATH '$.attempts',
  error       TEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.error'
)) AS d
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = d.id
SET m.status = 'dead', m.attempts = COALESCE(d.attempts, m.attempts), m.last_error = d.error, m.finished_at = :now, m.group_head = NULL, m.updated_at = :now
WHERE m.lease_token = d.lease_token AND m.status IN ('running', 'dead')`;

/** Returns how many messages were still held under their lease and changed. */
export async function deadLetter(db: Db, input: { dead: readonly HeldDeadLetter[]; now: Date }): Promise<number> {
  if (input.dead.length === 0) return 0;
  const dead = input.dead.map((d) => ({ id: d.id, leaseToken: d.leaseToken, attempts: d.attempts ?? null, error: clipError(d.error) }));
  const result = await db.execute(DEAD_LETTER, { dead, now: input.now }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { DEAD_LETTER };
