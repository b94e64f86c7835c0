import type { Db } from '../db/types.js';
import { GROUP_LEASE_INDEX, groupRunning, withGroupLeaseIndex } from './groupLeaseIndex.js';
import type { ClaimBatchInput } from './claimBatch.js';
import { groupSlotOf } from './groupSlots.js';
import { namedList } from './namedList.js';

/*
 * The claim of a FIFO queue, in two statements: a plain read that finds the due heads, then an
 * UPDATE that leases those still free. Only the head of a group may run: its unfinished message
 * with the lowest id (ids are time-ordered: enqueue order), and only when it is due and nothing
 * of its group is in flight.
 *
 * Why two statements. The heads come from ix_queue_messages_group (queue, group_head, id) by a
 * loose index scan: one index dive per live group, whatever the backlogs and the finished history.
 * Inside an UPDATE that scan would be a locking read, and it would wait on the uncommitted row of
 * any producer transaction still open (the outbox: a Data API transaction may stay open for
 * minutes), holding up every group of the queue. As a plain SELECT it is a consistent read: it
 * waits on nothing and does not see uncommitted messages. And since the sort by due time happens
 * there, without locks, concurrent claims do not lock every due head before sorting them: each
 * UPDATE locks only the heads it takes, so concurrent drains take disjoint groups.
 *
 * The UPDATE locks each candidate head by primary key FOR UPDATE SKIP LOCKED, in id order, and
 * re-checks it on the locked row's current version:
 * - unfinished and due (a head claimed, settled or retried since the read no longer qualifies);
 * - its group has nothing in flight: no row of the group is running under a live lease
 *   (ix_queue_messages_group_lease, migration 007). This is what holds one in flight per group
 *   when a message commits late: a message whose id was made before a later one of its group was
 *   committed and started (a client's batching linger, a re-sent insert, a producer's open
 *   transaction) becomes the group's lowest unfinished id while the later one runs, and waits for it;
 * - its group's slot (lib/sql/groupSlots.ts) is not held by a producer transaction still open: a
 *   group with an uncommitted message is passed over, without waiting, so its later messages keep
 *   their place behind that one, and every other group is claimed.
 *
 * Order, then, is enqueue (id) order among the messages of a group that are committed when its
 * head is chosen. A message that commits after a later message of its group was chosen runs after
 * that one, never beside it.
 *
 * Followers: with `:followers` 1, each head's next message in its group (as read with the head)
 * is leased with it when still due and unfinished, for the drain to start once the head's outcome
 * is written done or dead (lib/drain/lane.ts). Nothing else can hold a follower:
 * only a head is ever claimed on its own, and this statement holds the head. A follower's attempt is counted when it is leased, as
 * every claimed message's is, except once: a follower still 'running' under its head's last lease
 * (both leased together, the head's drain gone before the head finished) never started, since a
 * follower starts only after its head's outcome is written; leased again with its head, it is
 * not counted twice.
 *
 * A running head's available_at is its lease deadline, so it is not due: a group whose head is
 * in flight offers nothing until it is settled or its lease ends (a crashed drain). A redriven
 * dead letter is unfinished again with its old id, so it leads again (lib/sql/deadLetters.ts
 * delays it by a lease, so a later message of its group already in flight ends first).
 */
const FIND_GROUP_HEADS = `
SELECT c.id, c.group_key,
       (SELECT MIN(n.id) FROM queue_messages AS n FORCE INDEX (ix_queue_messages_group)
        WHERE n.queue = :queue AND n.group_head = c.group_key AND n.id > c.id) AS next_id
FROM (
  SELECT h.id, h.group_key
  FROM (
    SELECT MIN(id) AS id FROM queue_messages FORCE INDEX (ix_queue_messages_group)
    WHERE queue = :queue AND group_head IS NOT NULL
    GROUP BY queue, group_head
  ) AS heads
  STRAIGHT_JOIN queue_messages AS h FORCE INDEX (PRIMARY) ON h.id = heads.id
  WHERE h.finished_at IS NULL AND h.available_at <= :now
  ORDER BY h.available_at, h.id
  LIMIT :limit
) AS c`;

export interface GroupHead {
  id: string;
  groupKey: string;
  /** The group's next unfinished message, as read with the head (it may not be due): its follower. */
  nextId: string | null;
}

/** The due heads of up to `limit` groups of a FIFO queue, longest due first; locks nothing, waits on nothing. */
export async function findGroupHeads(db: Db, input: { queue: string; now: Date; limit: number }): Promise<GroupHead[]> {
  const rows = await db.query(FIND_GROUP_HEADS, { queue: input.queue, now: input.now, limit: input.limit }, { idempotent: true });
  return rows.map((row) => ({ id: row.id as string, groupKey: row.group_key as string, nextId: (row.next_id as string | null) ?? null }));
}

/*
 * The candidate heads come as an IN list on the primary key, read in id order with no ORDER BY:
 * the scan stops after :limit heads, locking only those (a sort would lock every candidate first).
 * Each head's follower comes with it, as read by findGroupHeads (or with the claim that ran its
 * group's last message): ELT(FIELD(...)) picks it from the parameters, with no read here. A locking
 * read past the head in the group index would lock the index record after the group's last
 * message, which can be another group's uncommitted message (an open outbox transaction), and wait
 * for that transaction.
 *
 * The in-flight check is a scalar subquery compared to 0, not NOT EXISTS: both engines may turn
 * NOT EXISTS into an anti-join or a materialized IN over every running message of the queue, a
 * locking read that waits on the rows a concurrent claim is leasing. A scalar subquery runs per
 * head the scan returned, so only for heads this claim has locked (test/sql/claimGroupHeads). Its
 * lookup is an equality on both columns of the group-lease index (group_lease, queue): the record
 * after the range gets a gap lock only, which waits on nothing. The index is named
 * (lib/sql/groupLeaseIndex.ts): with its columns in this order (014) the optimizer took the queue's
 * claim index on a small table, and waited on an open producer's row.
 */
/** A head's follower, picked from the parameters by the head's id. */
const followerOf = (headList: string, nextList: string) => `IF(:followers = 1, ELT(FIELD(h.id, ${headList}), ${nextList}), NULL)`;

/*
 * A follower's state is read in the derived table, before the UPDATE changes it: MySQL does not
 * promise the order of a multiple-table UPDATE's assignments, so the attempts SET must not read
 * the status or lease token another SET changes.
 */
const claimGroupHeadsSql = (headList: string, nextList: string) => `
UPDATE (
  SELECT h.id AS head_id, h.group_key, ${followerOf(headList, nextList)} AS next_id,
         (SELECT f.status = 'running' AND f.lease_token <=> h.lease_token FROM queue_messages AS f FORCE INDEX (PRIMARY)
          WHERE f.id = ${followerOf(headList, nextList)}) AS follower_unstarted
  FROM queue_messages AS h FORCE INDEX (PRIMARY)
  STRAIGHT_JOIN queue_group_slots AS s FORCE INDEX (PRIMARY) ON s.queue = :queue AND s.slot = ${groupSlotOf('h.group_key')}
  WHERE h.id IN (${headList}) AND h.queue = :queue AND h.finished_at IS NULL AND h.available_at <= :now
    AND ${groupRunning('h.group_key', GROUP_LEASE_INDEX)} = 0
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
) AS due
STRAIGHT_JOIN (SELECT 0 AS k UNION ALL SELECT 1) AS pick ON pick.k <= :followers
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = IF(pick.k = 0, due.head_id, due.next_id)
SET m.status = 'running',
    m.attempts = m.attempts + IF(pick.k = 1 AND due.follower_unstarted, 0, 1),
    m.lease_token = :leaseToken,
    m.available_at = :leaseUntil,
    m.updated_at = :now
WHERE pick.k = 0 OR (m.group_head = due.group_key AND m.finished_at IS NULL AND m.available_at <= :now)`;

export interface ClaimGroupHeadsInput extends ClaimBatchInput {
  /** Candidates from findGroupHeads; up to `limit` of them are leased. */
  heads: readonly GroupHead[];
  /**
   * Also lease each head's next message of its group, if due: the drain runs it once the head's
   * outcome is written (lib/drain/lane.ts), so the group still has one in flight, in order, at a
   * claim per two messages. Up to `limit` heads and as many followers.
   */
  followers: boolean;
}

/** Leases up to `limit` of the candidate heads still free (and their followers); returns how many rows it took. */
export async function claimGroupHeads(db: Db, input: ClaimGroupHeadsInput): Promise<number> {
  if (input.heads.length === 0 || input.limit <= 0) return 0;
  const heads = namedList(
    'head',
    input.heads.map((head) => head.id),
  );
  // namedList takes strings; a head without a follower gets its own id, which the pick's checks
  // (unfinished and due, after the head is leased) refuse: no second row.
  const nexts = namedList(
    'next',
    input.heads.map((head) => head.nextId ?? head.id),
  );
  const params = {
    ...heads.params,
    ...nexts.params,
    followers: input.followers ? 1 : 0,
    queue: input.queue,
    limit: input.limit,
    leaseToken: input.leaseToken,
    now: input.now,
    leaseUntil: input.leaseUntil,
  };
  const result = await withGroupLeaseIndex(claimGroupHeadsSql(heads.placeholders, nexts.placeholders), (sql) => db.execute(sql, params));
  return result.numberOfRecordsUpdated;
}

/** The claim statement for `heads` candidates (for EXPLAIN in tests and doctor). */
export const CLAIM_GROUP_HEADS = (heads: number): string => {
  const ids = Array.from({ length: heads }, String);
  return claimGroupHeadsSql(namedList('head', ids).placeholders, namedList('next', ids).placeholders);
};

export { FIND_GROUP_HEADS };
