import type { Db } from '../db/types.js';
import type { HeldMessage } from './heldMessage.js';

/*
 * A running message's latest progress (context.progress), under the lease it was claimed with:
 * the token is replaced by every claim, so a handler of a lost lease writes nothing over the run
 * that holds the message now. Any status: the last value of an attempt may land just after its
 * outcome, and is still that attempt's. The writer keeps one write per message in flight, so
 * writes land in the order they were made (lib/drain/progress.ts).
 */
const STORE_HELD_PROGRESS = `
INSERT INTO queue_message_outputs (message_id, progress, progress_at, updated_at)
SELECT m.id, :progress, :now, :now
FROM queue_messages AS m
WHERE m.id = :id AND m.lease_token = :leaseToken
ON DUPLICATE KEY UPDATE
  queue_message_outputs.progress = :progress, queue_message_outputs.progress_at = :now, queue_message_outputs.updated_at = :now`;

/** Stores one message's progress (JSON text); false when its lease is no longer held. */
export async function storeHeldProgress(db: Db, input: { held: HeldMessage; progress: string; now: Date }): Promise<boolean> {
  const answer = await db.execute(
    STORE_HELD_PROGRESS,
    { id: input.held.id, leaseToken: input.held.leaseToken, progress: input.progress, now: input.now },
    { idempotent: true },
  );
  return answer.numberOfRecordsUpdated > 0;
}

export { STORE_HELD_PROGRESS };
