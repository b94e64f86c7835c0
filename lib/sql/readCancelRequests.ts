import type { Db } from '../db/types.js';
import { heldRows, heldRowsTable, type HeldMessage } from './heldMessage.js';

/*
 * Which of a lane's running messages someone asked to cancel (requestCancel), under the lease
 * they run under: a request made for an earlier attempt does not cancel this one. One statement
 * for all of a lane's running messages, each request reached by primary key from the JSON rows:
 * the cost of a poll is a round trip, not a scan, whatever the table holds.
 */
const READ_CANCEL_REQUESTS = `
SELECT r.message_id AS id
FROM ${heldRowsTable('held')}
STRAIGHT_JOIN queue_cancel_requests AS r FORCE INDEX (PRIMARY) ON r.message_id = h.id
WHERE r.lease_token = h.lease_token`;

/** The ids of `held` with a cancel request under their lease. */
export async function readCancelRequests(db: Db, held: readonly HeldMessage[]): Promise<Set<string>> {
  if (held.length === 0) return new Set();
  const rows = await db.query(READ_CANCEL_REQUESTS, { held: heldRows(held) });
  return new Set(rows.map((row) => String(row.id)));
}

export { READ_CANCEL_REQUESTS };
