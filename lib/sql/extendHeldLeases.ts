import type { Db } from '../db/types.js';
import { heldRows, settleHeldSql, type HeldMessage } from './heldMessage.js';

/*
 * A heartbeat: moves the lease end of any number of running messages, each under its own lease
 * token, to :leaseUntil in one statement (a lane sends one per beat, not one per message). A row
 * whose lease was taken over (claimed again after it ran out) matches nothing. GREATEST: an
 * extension never shortens a lease (context.extendLease may ask for less than a beat gave), and a
 * call re-sent after a lost reply sets the same value again.
 *
 * The count is a hint, not the verdict: a Data API that counts changed rather than matched rows
 * reports a re-sent call's rows as unchanged. So when it is short of what was sent, the caller
 * asks readHeldLeases which leases are really gone, and only those are lost.
 */
const EXTEND_HELD_LEASES = settleHeldSql({
  rows: 'held',
  set: `m.available_at = GREATEST(m.available_at, :leaseUntil)`,
  statuses: ['running'],
});

/** Extends the leases still held to at least `leaseUntil`; returns how many rows matched. */
export async function extendHeldLeases(db: Db, input: { held: readonly HeldMessage[]; leaseUntil: Date }): Promise<number> {
  if (input.held.length === 0) return 0;
  const result = await db.execute(EXTEND_HELD_LEASES, { held: heldRows(input.held), leaseUntil: input.leaseUntil }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { EXTEND_HELD_LEASES };
