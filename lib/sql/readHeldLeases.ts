import type { Db } from '../db/types.js';
import { heldRows, heldRowsTable, type HeldMessage } from './heldMessage.js';

/*
 * Which of these messages are still running under the lease given: after a heartbeat that
 * matched fewer rows than it sent (extendHeldLeases), the ones missing here are the lost ones.
 * The JSON rows first, each message by primary key, as the settle statements reach them.
 */
const READ_HELD_LEASES = `
SELECT m.id
FROM ${heldRowsTable('held')}
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = h.id
WHERE m.lease_token = h.lease_token AND m.status = 'running'`;

/** The ids of `held` still running under their lease. */
export async function readHeldLeases(db: Db, held: readonly HeldMessage[]): Promise<Set<string>> {
  if (held.length === 0) return new Set();
  const rows = await db.query(READ_HELD_LEASES, { held: heldRows(held) });
  return new Set(rows.map((row) => String(row.id)));
}

export { READ_HELD_LEASES };
