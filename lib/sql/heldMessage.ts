import type { Json } from '../db/types.js';

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

/** One claim's messages in a statement's JSON rows (heldRows). */
type HeldGroup = { leaseToken: string; messages: { [field: string]: Json }[] };

/**
 * The JSON rows of a statement about held messages: grouped by lease token, each message's `id`
 * and what `fields` adds under `messages`. A write carries whole claims as a rule, so a token
 * travels once per claim rather than once per message: the request, the hash its signature
 * takes, the Data API's parse and MySQL's JSON_TABLE all read less than half as much.
 */
export function heldRows<H extends HeldMessage>(held: readonly H[], fields?: (message: H) => { [field: string]: Json }): HeldGroup[] {
  const groups: HeldGroup[] = [];
  const byToken = new Map<string, HeldGroup>();
  for (const message of held) {
    let group = byToken.get(message.leaseToken);
    if (group === undefined) {
      group = { leaseToken: message.leaseToken, messages: [] };
      byToken.set(message.leaseToken, group);
      groups.push(group);
    }
    group.messages.push({ id: message.id, ...fields?.(message) });
  }
  return groups;
}

/** For the statements that store a message's attempts: them when given, else nothing (the column reads NULL, the stored count stands). */
export function heldAttempts(message: HeldMessage): { attempts?: number } {
  return message.attempts === undefined ? {} : { attempts: message.attempts };
}

/**
 * `JSON_TABLE(:<rows>, …) AS h`: heldRows' JSON as one row per message, with its claim's
 * lease_token beside id and attempts, and `columns` read from the message's own fields.
 */
export function heldRowsTable(rows: string, columns: readonly string[] = []): string {
  const messageColumns = [`id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.id'`, `attempts    INT PATH '$.attempts'`, ...columns];
  return `JSON_TABLE(:${rows}, '$[*]' COLUMNS (
  lease_token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$.leaseToken',
  NESTED PATH '$.messages[*]' COLUMNS (
    ${messageColumns.join(',\n    ')}
  )
)) AS h`;
}

/**
 * The statement that settles held messages (markHeldDone, rescheduleHeld, deadLetterHeld, releaseHeld): the JSON
 * rows of parameter `:<rows>` (heldRows, plus `columns`) as `h`, each message reached by
 * primary key as `m`, and set as `set` says only where it is still held under its lease and its
 * status is one of `statuses` (the status it is taken from, and the one it is put in, so a re-sent
 * call matches its own rows again).
 *
 * The join order is pinned (the JSON rows first, then each message by primary key): on a small
 * or freshly analysed table the optimizer may otherwise scan queue_messages and probe the JSON
 * rows, and an UPDATE locks every row it reads, so it would wait on rows other drainers hold.
 */
export function settleHeldSql(statement: { rows: string; columns?: readonly string[]; set: string; statuses: readonly string[] }): string {
  return `
UPDATE ${heldRowsTable(statement.rows, statement.columns)}
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = h.id
SET ${statement.set}
WHERE m.lease_token = h.lease_token AND m.status IN (${statement.statuses.map((s) => `'${s}'`).join(', ')})`;
}
