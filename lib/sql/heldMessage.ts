/** A claimed message and the lease it was claimed under: what every write after a claim presents. */
export interface HeldMessage {
  id: string;
  leaseToken: string;
  /**
   * The attempts counted, this one included, when the outcome's write is to store them: a FIFO
   * follower's attempt is counted when it runs, not at claim (lib/sql/claimGroupHeads.ts). Omitted:
   * the stored count stands.
   */
  attempts?: number;
}

/** JSON_TABLE columns of a settle statement's rows beyond id, lease_token and attempts. */
export const ERROR_COLUMN = `error       TEXT     CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$.error'`;
export const AVAILABLE_AT_COLUMN = `available_at DATETIME(3) PATH '$.availableAt'`;

/**
 * The statement that settles held messages (markHeldDone, rescheduleHeld, deadLetterHeld, releaseHeld): the JSON
 * rows of parameter `:<rows>` as `h` (each a HeldMessage, plus `columns`), each message reached by
 * primary key as `m`, and set as `set` says only where it is still held under its lease and its
 * status is one of `statuses` (the status it is taken from, and the one it is put in, so a re-sent
 * call matches its own rows again).
 *
 * The join order is pinned (the JSON rows first, then each message by primary key): on a small
 * or freshly analysed table the optimizer may otherwise scan queue_messages and probe the JSON
 * rows, and an UPDATE locks every row it reads, so it would wait on rows other drainers hold.
 */
export function settleHeldSql(statement: { rows: string; columns?: readonly string[]; set: string; statuses: readonly string[] }): string {
  const columns = [
    `id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id'`,
    `lease_token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.leaseToken'`,
    `attempts    INT PATH '$.attempts'`,
    ...(statement.columns ?? []),
  ];
  return `
UPDATE JSON_TABLE(:${statement.rows}, '$[*]' COLUMNS (
  ${columns.join(',\n  ')}
)) AS h
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = h.id
SET ${statement.set}
WHERE m.lease_token = h.lease_token AND m.status IN (${statement.statuses.map((s) => `'${s}'`).join(', ')})`;
}
