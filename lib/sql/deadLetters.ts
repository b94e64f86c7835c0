import type { Db } from '../db/types.js';
import { MESSAGE_COLUMNS, toMessage, type Message } from './message.js';
import { WORST_ROW_BYTES_PARAMS, worstRowBytesSql } from './responseBytes.js';

/*
 * Every statement here finds dead letters through `dead_queue` (the queue's name while a message
 * is dead, NULL otherwise) and its index, in id order, never through the finished history.
 */

/*
 * A listing page is cut by the size its rows can take in the response, not only by count: each
 * row counts the worst case of every field it returns (lib/sql/responseBytes.ts), and the window
 * sums them over the page's own rows (at most :pageRows, one more than asked, which tells whether
 * more follow). A row is kept when it ends within the budget, or when it is the page's first.
 * Count and sum travel back on every row.
 */
const rowBytesSql = worstRowBytesSql({ payloadBytes: 'payload_bytes', text: ['last_error', 'dedup_key', 'group_key', 'trace_context'] });

const LIST_DEAD_LETTERS = `
SELECT * FROM (
  SELECT page.*,
         SUM(row_bytes) OVER (ORDER BY id) AS running_bytes,
         COUNT(*) OVER () AS page_rows
  FROM (
    SELECT ${MESSAGE_COLUMNS}, ${rowBytesSql} AS row_bytes
    FROM queue_messages
    WHERE dead_queue = :queue AND id > :afterId
    ORDER BY id
    LIMIT :pageRows
  ) AS page
) AS sized
WHERE running_bytes <= :maxBytes OR running_bytes = row_bytes
ORDER BY id
LIMIT :limit`;

export interface DeadLetterPage {
  messages: Message[];
  /** More dead letters follow the last one returned. */
  more: boolean;
}

/**
 * Dead letters of a queue in id (enqueue) order, a page at a time: at most `limit`, and only as
 * many as their rows' worst-case size in the response fits `maxBytes` (at least one; normally
 * RESPONSE_PAGE_BYTES, which leaves room for the response's column metadata and envelope).
 */
export async function listDeadLetters(db: Db, input: { queue: string; limit: number; afterId?: string; maxBytes: number }): Promise<DeadLetterPage> {
  const rows = await db.query(
    LIST_DEAD_LETTERS,
    {
      queue: input.queue,
      afterId: input.afterId ?? '',
      pageRows: input.limit + 1,
      limit: input.limit,
      maxBytes: input.maxBytes,
      ...WORST_ROW_BYTES_PARAMS,
    },
    { idempotent: true },
  );
  const pageRows = rows.length === 0 ? 0 : Number(rows[0]!.page_rows);
  return { messages: rows.map(toMessage), more: pageRows > rows.length };
}

/** A message's type is one of `:types` (a comma-separated list: type names have no commas), unless `:allTypes`. */
const OF_TYPES = (column: string) => `(:allTypes OR FIND_IN_SET(${column}, :types))`;

/** The parameters of OF_TYPES for a list of types, or for any type. */
const typeParams = (types: readonly string[] | undefined) => ({ allTypes: types === undefined, types: (types ?? []).join(',') });

/*
 * Redrive and purge change a chosen set of ids, never "the next `limit` dead letters": the Data
 * API may answer a call with an error after it ran (lib/db/retry.ts), and a re-sent `LIMIT`
 * statement would act on `limit` more. Changing given ids is safe to send twice (a second run finds
 * them no longer dead letters of the queue), so a call for "the queue's oldest" reads their ids
 * first: one call more, on an operator's action.
 */
/*
 * A purge needs a dead letter's dedup key only when it names a recurring slot (lib/recurring.ts
 * slotKey: 'recurring:', an entry name of at most 64 ASCII characters, ':' and a 24-character
 * time: at most 99 bytes); others come back NULL. Any key, up to 1,020 bytes, on 1,000 rows would
 * pass the Data API's 1 MiB; at most 99 bytes each, even escaped 6 per byte, they come to ~700 KB.
 */
const SELECT_DEAD_LETTER_IDS = `
SELECT id, IF(dedup_key LIKE 'recurring:%' AND LENGTH(dedup_key) <= 99, dedup_key, NULL) AS slot_key
FROM queue_messages
WHERE dead_queue = :queue AND (:allIds OR FIND_IN_SET(id, :ids)) AND ${OF_TYPES('type')}
ORDER BY id
LIMIT :limit`;

export interface DeadLetterSelection {
  queue: string;
  /** Only these dead letters; all of the queue's when omitted. */
  ids?: readonly string[];
  /** At most this many, oldest first. */
  limit: number;
  /** Only dead letters of these job types; of any type when omitted. */
  types?: readonly string[] | undefined;
}

/**
 * The oldest `limit` dead letters of the queue (among the given ids, if any), with their dedup
 * keys where those may name a recurring slot (null otherwise).
 */
export async function selectDeadLetters(db: Db, input: DeadLetterSelection): Promise<{ id: string; slotKey: string | null }[]> {
  if (input.limit <= 0 || input.ids?.length === 0) return [];
  const rows = await db.query<{ id: string; slot_key: string | null }>(
    SELECT_DEAD_LETTER_IDS,
    { queue: input.queue, allIds: input.ids === undefined, ids: (input.ids ?? []).join(','), limit: input.limit, ...typeParams(input.types) },
    { idempotent: true },
  );
  return rows.map((row) => ({ id: row.id, slotKey: row.slot_key }));
}

/**
 * The ids a bulk call acts on: the given ones when they fit the limit (no call: acting on them is
 * safe to repeat), else those selectDeadLetters finds.
 */
export async function deadLetterIds(db: Db, input: DeadLetterSelection): Promise<string[]> {
  if (input.ids !== undefined && input.ids.length <= input.limit) return [...input.ids];
  return (await selectDeadLetters(db, input)).map((row) => row.id);
}

/** The ids as a table, joined to messages by primary key. */
const ID_TABLE = `JSON_TABLE(:ids, '$[*]' COLUMNS (id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin PATH '$')) AS chosen`;

/*
 * A redriven message starts over: attempts back to 0, due now, last error kept for the record
 * until it next fails or succeeds. A bulk redrive is bounded by its ids (at most 1,000 a call), so
 * a redrive of thousands is spread over calls (and then over drain runs by the queue's rate limit).
 *
 * A message of a FIFO group leads its group again (lib/sql/claimGroupHeads.ts), but becomes due
 * only `groupedAvailableAt` (a lease) from now: a later message of its group may be in flight
 * right now, and must end, or its lease must, before the redriven one runs.
 */
const REDRIVE_DEAD_LETTERS = `
UPDATE ${ID_TABLE}
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = chosen.id
SET m.status = 'waiting', m.attempts = 0, m.available_at = IF(m.group_key IS NULL, :now, :groupedAvailableAt), m.finished_at = NULL,
    m.group_head = m.group_key, m.lease_token = NULL, m.updated_at = :now
WHERE m.dead_queue = :queue AND ${OF_TYPES('m.type')}`;

export interface RedriveByIdInput {
  queue: string;
  ids: readonly string[];
  now: Date;
  /** When a redriven message of a FIFO group becomes due: a lease after now. */
  groupedAvailableAt: Date;
  /** Only dead letters of these job types; of any type when omitted. */
  types?: readonly string[] | undefined;
}

/**
 * Sends these dead letters of the queue back to waiting (ids that are not are left alone); returns
 * how many changed. Safe to re-send: a re-sent call counts only what its own run changed.
 */
export async function redriveDeadLettersById(db: Db, input: RedriveByIdInput): Promise<number> {
  if (input.ids.length === 0) return 0;
  const result = await db.execute(
    REDRIVE_DEAD_LETTERS,
    { queue: input.queue, ids: input.ids, now: input.now, groupedAvailableAt: input.groupedAvailableAt, ...typeParams(input.types) },
    { idempotent: true },
  );
  return result.numberOfRecordsUpdated;
}

/* Among given ids, by primary key; among the queue's, through the dead-letter index. */
const COUNT_DEAD_LETTERS_NOT_OF_TYPES = `
SELECT COUNT(*) AS n
FROM queue_messages
WHERE dead_queue = :queue AND NOT FIND_IN_SET(type, :types)`;

const COUNT_CHOSEN_DEAD_LETTERS_NOT_OF_TYPES = `
SELECT COUNT(*) AS n
FROM ${ID_TABLE}
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = chosen.id
WHERE m.dead_queue = :queue AND NOT FIND_IN_SET(m.type, :types)`;

/** How many dead letters of the queue (among the given ids, if any) are of none of these types. */
export async function countDeadLettersNotOfTypes(
  db: Db,
  input: { queue: string; ids?: readonly string[] | undefined; types: readonly string[] },
): Promise<number> {
  if (input.ids?.length === 0) return 0;
  const [row] = await db.query<{ n: number }>(
    input.ids === undefined ? COUNT_DEAD_LETTERS_NOT_OF_TYPES : COUNT_CHOSEN_DEAD_LETTERS_NOT_OF_TYPES,
    { queue: input.queue, ...(input.ids === undefined ? {} : { ids: input.ids }), types: input.types.join(',') },
    { idempotent: true },
  );
  return Number(row?.n ?? 0);
}

export interface RedriveInput extends DeadLetterSelection {
  now: Date;
  groupedAvailableAt: Date;
}

/** Redrives the selected dead letters (see deadLetterIds); returns how many went back to waiting. */
export async function redriveDeadLetters(db: Db, input: RedriveInput): Promise<number> {
  const ids = await deadLetterIds(db, input);
  return redriveDeadLettersById(db, { queue: input.queue, ids, now: input.now, groupedAvailableAt: input.groupedAvailableAt, types: input.types });
}

/* A purged message's payload slices go with it (ON DELETE CASCADE, schema/migrations/004). */
const PURGE_DEAD_LETTERS = `
DELETE m FROM ${ID_TABLE}
STRAIGHT_JOIN queue_messages AS m FORCE INDEX (PRIMARY) ON m.id = chosen.id
WHERE m.dead_queue = :queue`;

/** Deletes these dead letters of the queue for good (other ids are left alone); returns how many. */
export async function purgeDeadLettersById(db: Db, input: { queue: string; ids: readonly string[] }): Promise<number> {
  if (input.ids.length === 0) return 0;
  const result = await db.execute(PURGE_DEAD_LETTERS, { queue: input.queue, ids: input.ids }, { idempotent: true });
  return result.numberOfRecordsUpdated;
}

export { COUNT_CHOSEN_DEAD_LETTERS_NOT_OF_TYPES, COUNT_DEAD_LETTERS_NOT_OF_TYPES, PURGE_DEAD_LETTERS, REDRIVE_DEAD_LETTERS, SELECT_DEAD_LETTER_IDS };
