import type { Db, SqlParams } from '../db/types.js';

export interface ClaimBatchInput {
  queue: string;
  limit: number;
  /** Fresh per claim; every later write to these messages must present it. */
  leaseToken: string;
  now: Date;
  /** The lease deadline: unless settled before then, the messages become claimable again. */
  leaseUntil: Date;
}

/**
 * How a claim leases the rows it picked (`m`): its attempt counted, under the claim's token until
 * the lease deadline (lib/sql/claimGroupHeads.ts leases the same way, but for a FIFO follower's
 * attempt). LEASE_DUE reaches each row of a derived table `due` by primary key.
 */
export const LEASE_SET = `SET m.status = 'running',
    m.attempts = m.attempts + 1,
    m.lease_token = :leaseToken,
    m.available_at = :leaseUntil,
    m.updated_at = :now`;

export const LEASE_DUE = `STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = due.id
${LEASE_SET}`;

/** Runs a claim statement (its derived table, then LEASE_DUE); answers how many it leased. */
export async function lease(db: Db, sql: string, params: SqlParams): Promise<number> {
  const result = await db.execute(sql, params);
  return result.numberOfRecordsUpdated;
}

/*
 * One statement, so a claim is one Data API call and needs no transaction (a Data API
 * transaction would cost Begin + Commit on top).
 *
 * The derived table picks due rows in claim-index order (queue, finished_at IS NULL, priority,
 * available_at) and locks them FOR UPDATE SKIP LOCKED: a concurrent claim skips the rows this one
 * holds instead of waiting for them, so overlapping drainers neither block each other nor take the
 * same message. SKIP LOCKED only skips when the scan follows the index, which is why the ORDER BY
 * matches the index exactly. The LIMIT keeps the derived table from being merged into the UPDATE
 * (which MySQL would refuse for a self-reference). STRAIGHT_JOIN makes the derived table the
 * outer table of the join and FORCE INDEX reaches each picked row by primary key, so the UPDATE
 * reads and locks only the rows it picked. Left
 * to itself the optimizer may instead scan queue_messages and probe the derived table (MariaDB
 * does on a small table): that UPDATE reads, locks and waits on every row of the table, and a
 * claim then blocks behind any held lock, SKIP LOCKED notwithstanding.
 *
 * FORCE INDEX pins the scan to the claim index: were the optimizer to sort instead (it may on a
 * small or skewed table), one claimer would read and lock every due row (test/sql/claimBatch).
 *
 * `available_at <= :now` also takes messages whose lease has expired (a crashed or timed-out
 * drainer): their available_at is their lease deadline. Attempts are counted here, not at
 * settle, so a message that crashes every drainer still runs out of attempts.
 */
const CLAIM_BATCH = `
UPDATE (
  SELECT id FROM queue_messages FORCE INDEX (ix_queue_messages_claim)
  WHERE queue = :queue AND finished_at IS NULL AND available_at <= :now
  ORDER BY priority DESC, available_at
  LIMIT :limit
  FOR UPDATE SKIP LOCKED
) AS due
${LEASE_DUE}`;

/** Leases up to `limit` due messages of a queue; returns how many it took. */
export async function claimBatch(db: Db, input: ClaimBatchInput): Promise<number> {
  return lease(db, CLAIM_BATCH, { ...input });
}

export { CLAIM_BATCH };
