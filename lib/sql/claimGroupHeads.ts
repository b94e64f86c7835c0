import type { Db } from '../db/types.js';
import { LEASE_SET, lease, type ClaimBatchInput } from './claimBatch.js';

/*
 * The claim of a FIFO queue: only the head of each group may run, the group's unfinished message
 * with the lowest id (ids are time-ordered: enqueue order), and only when it is due. Everything
 * else follows from the head being the group's oldest unfinished message:
 *
 * - at most one in flight: a running head's available_at is its lease deadline, so it is not due
 *   and its group offers nothing until it is settled (or its lease ends: a crashed drain);
 * - a retrying head holds its group back until its next attempt is due;
 * - a done, dead or cancelled head is finished (group_head NULL), and the next message leads;
 * - a redriven dead letter is unfinished again with its old id, so it leads again: back in its
 *   group's order (lib/sql/deadLetters.ts delays it by a lease, so a later message of its group
 *   already in flight ends first).
 *
 * The heads come from ix_queue_messages_group (queue, group_head, id) by a loose index scan: one
 * index dive per live group ("Using index for group-by"), whatever the groups' backlogs and the
 * queue's finished history. They are then locked by primary key FOR UPDATE SKIP LOCKED in due
 * order (oldest first, so no group starves), re-checked on the locked row's current version (a
 * head settled since the scan no longer qualifies: the next message waits for the next claim,
 * never runs beside it), and claimed exactly as claimBatch claims.
 *
 * Followers: with `:followers` 1, each locked head's next message in its group (one index dive
 * past the head) is leased with it when due, through a two-row pick (0: the head, 1: its
 * follower). Nothing else can hold a follower: only a head is ever claimed on its own, and this
 * statement holds the head. The drain starts a follower only after its head's outcome is written
 * (done or dead) and gives it back otherwise, so the group still runs one at a time, in order.
 */
const CLAIM_GROUP_HEADS = `
UPDATE (
  SELECT h.id AS head_id,
         (SELECT MIN(n.id) FROM queue_messages AS n FORCE INDEX (ix_queue_messages_group)
          WHERE n.queue = :queue AND n.group_head = h.group_head AND n.id > h.id) AS next_id
  FROM (
    SELECT MIN(id) AS id FROM queue_messages FORCE INDEX (ix_queue_messages_group)
    WHERE queue = :queue AND group_head IS NOT NULL
    GROUP BY queue, group_head
  ) AS heads
  STRAIGHT_JOIN queue_messages AS h FORCE INDEX (PRIMARY) ON h.id = heads.id
  WHERE h.finished_at IS NULL AND h.available_at <= :now
  ORDER BY h.available_at, h.id
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
) AS due
STRAIGHT_JOIN (SELECT 0 AS k UNION ALL SELECT 1) AS pick ON pick.k <= :followers
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = IF(pick.k = 0, due.head_id, due.next_id)
${LEASE_SET}
WHERE pick.k = 0 OR (m.finished_at IS NULL AND m.available_at <= :now)`;

export interface ClaimGroupHeadsInput extends ClaimBatchInput {
  /**
   * Also lease each head's next message of its group, if due: the drain runs it once the head's
   * outcome is written (lib/drain/lane.ts), so the group still has one in flight, in order, at a
   * claim and a read per two messages. Up to `limit` heads and as many followers.
   */
  followers: boolean;
}

/** Leases the due heads of up to `limit` groups of a FIFO queue (and their followers); returns how many it took. */
export async function claimGroupHeads(db: Db, input: ClaimGroupHeadsInput): Promise<number> {
  return lease(db, CLAIM_GROUP_HEADS, { ...input, followers: input.followers ? 1 : 0 });
}

export { CLAIM_GROUP_HEADS };
