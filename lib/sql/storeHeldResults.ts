import type { Db } from '../db/types.js';
import { heldRows, heldRowsTable, type HeldMessage } from './heldMessage.js';

/** A held message and the JSON text of what its handler returned. */
export interface HeldResult extends HeldMessage {
  result: string;
}

/*
 * Stores the results of held messages, just before markHeldDone marks them done (lib/drain/settle.ts):
 * only where the message is still held under the lease the row presents, in the status it is
 * taken from or put in (a call re-sent after a lost reply, or a settle retried after the mark
 * failed, matches its own rows again). The claim's lease token is stored with the result.
 *
 * Written first, so a message is never seen done without its result. Should the mark then lose
 * the lease (the lease ran out and another drain claimed the message between the two calls),
 * the result stays, but it is shown only while the message's lease token is the one stored with
 * it (lib/sql/getMessage.ts): the run that finally completes the message holds another token,
 * and either writes its own result over this one or leaves it hidden. An upsert, as a retry of a
 * message whose earlier run left a result must replace it. The columns it sets are named with their
 * table: the SELECT's tables have a lease_token too.
 */
const STORE_HELD_RESULTS = `
INSERT INTO queue_message_outputs (message_id, lease_token, result, result_bytes, updated_at)
SELECT m.id, m.lease_token, h.result, LENGTH(h.result), :now
FROM ${heldRowsTable('held', [`result      MEDIUMTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.result'`])}
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = h.id
WHERE m.lease_token = h.lease_token AND m.status IN ('running', 'done')
ON DUPLICATE KEY UPDATE
  queue_message_outputs.lease_token = m.lease_token,
  queue_message_outputs.result = h.result,
  queue_message_outputs.result_bytes = LENGTH(h.result),
  queue_message_outputs.updated_at = :now`;

/**
 * Stores results; answers the affected rows as MySQL counts an upsert (1 a new row, 2 a replaced
 * one, 0 or 1 one left as it was): 0 means no message was still held. No call for no results.
 */
export async function storeHeldResults(db: Db, input: { held: readonly HeldResult[]; now: Date }): Promise<number> {
  if (input.held.length === 0) return 0;
  const held = heldRows(input.held, (h) => ({ result: h.result }));
  const answer = await db.execute(STORE_HELD_RESULTS, { held, now: input.now }, { idempotent: true });
  return answer.numberOfRecordsUpdated;
}

export { STORE_HELD_RESULTS };
