import { DatabaseError } from '../db/errors.js';

/*
 * The group-lease index (group_lease, queue) holds the messages running in each group (migrations
 * 007, 014). Counts of running messages name it: they are locking reads inside claims, and on
 * another plan (a small table, or statistics taken while many ran) they read rows a producer has
 * not committed (an open outbox transaction) and wait for it, or read a queue's whole history.
 * While a migration rebuilds the index the hinted statement fails with 1176, and runs unhinted
 * (slower, still right) until the index is back.
 */
export const GROUP_LEASE_INDEX = 'FORCE INDEX (ix_queue_messages_group_lease)';

/**
 * A group's messages in flight: running under a live lease, on the group-lease index when hinted
 * (the claims' locking counts; see above). Also what operators see as a group's running count.
 */
export const groupRunning = (group: string, indexHint = '') => `(SELECT COUNT(*) FROM queue_messages AS r ${indexHint}
              WHERE r.queue = :queue AND r.group_lease = ${group} AND r.available_at > :now)`;

/** MySQL 1176: an index named in a hint does not exist. */
const NO_SUCH_INDEX = 1176;

/** Runs `sql` through `run`, or without GROUP_LEASE_INDEX while that index is gone (1176). */
export async function withGroupLeaseIndex<T>(sql: string, run: (sql: string) => Promise<T>): Promise<T> {
  try {
    return await run(sql);
  } catch (error) {
    if (!(error instanceof DatabaseError) || error.mysqlCode !== NO_SUCH_INDEX) throw error;
    return run(sql.replaceAll(GROUP_LEASE_INDEX, ''));
  }
}
