import type { Db } from '../db/types.js';
import type { HeldMessage } from './heldMessage.js';

/*
 * Which of these messages are still running under the lease given: after a heartbeat that
 * matched fewer rows than it sent (extendHeldLeases), the ones missing here are the lost ones.
 * The JSON rows first, each message by primary key, as the settle statements reach them.
 */
const READ_HELD_LEASES = `
SELECT m.id
FROM JSON_TABLE(:held, '$[*]' COLUMNS (
  id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id',
  lease_token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.leaseToken'
)) AS h
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = h.id
WHERE m.lease_token = h.lease_token AND m.status = 'running'`;

/** The ids of `held` still running under their lease. */
export async function readHeldLeases(db: Db, held: readonly HeldMessage[]): Promise<Set<string>> {
  if (held.length === 0) return new Set();
  const rows = await db.query(READ_HELD_LEASES, { held: held.map((h) => ({ id: h.id, leaseToken: h.leaseToken })) });
  return new Set(rows.map((row) => String(row.id)));
}

export { READ_HELD_LEASES };
