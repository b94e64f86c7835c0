import type { Db } from '../db/types.js';
import { ensureOnce } from './ensureOnce.js';

/*
 * FIFO group slots (schema/migrations/007): a producer transaction that enqueues grouped messages
 * holds its groups' slots (a shared lock) until it commits, and the FIFO claim passes over a head
 * whose slot is held (lib/sql/claimGroupHeads.ts). A group's slot is CRC32 of its key modulo
 * GROUP_SLOTS, computed by the database on both sides so they always agree.
 */

/** Slots per FIFO queue: groups sharing a slot wait only for each other's open producer transactions. */
export const GROUP_SLOTS = 1024;

/** The SQL expression of a group key's slot. */
export const groupSlotOf = (groupKey: string) => `CRC32(${groupKey}) % ${GROUP_SLOTS}`;

/*
 * INSERT IGNORE, not ON DUPLICATE KEY UPDATE: an existing slot is only read (a shared lock), so
 * this never waits on a producer holding it.
 */
const ENSURE_GROUP_SLOTS = `
INSERT IGNORE INTO queue_group_slots (queue, slot)
SELECT :queue, j.slot
FROM JSON_TABLE(:slots, '$[*]' COLUMNS (slot INT UNSIGNED PATH '$')) AS j`;

/** Adds a FIFO queue's slot rows that are missing. */
export async function ensureGroupSlots(db: Db, input: { queue: string }): Promise<void> {
  const slots = Array.from({ length: GROUP_SLOTS }, (_, slot) => slot);
  await db.execute(ENSURE_GROUP_SLOTS, { queue: input.queue, slots }, { idempotent: true });
}

/** Slot rows must exist, committed, before a producer can hold them or a claim can take their groups. */
export async function ensureGroupSlotsOnce(db: Db, input: { queue: string; now: Date }): Promise<void> {
  await ensureOnce(db, { key: `slots\u0000${input.queue}`, now: input.now, recheckMs: 5 * 60_000 }, () => ensureGroupSlots(db, input));
}

/*
 * Shared locks (LOCK IN SHARE MODE: MariaDB has no FOR SHARE; MySQL 8 takes both) on the slots of
 * the given groups, held until the caller's transaction ends. Producers of one group do not wait
 * for each other; a claim holds a slot only for its own statement.
 */
const HOLD_GROUP_SLOTS = `
SELECT s.slot FROM queue_group_slots AS s FORCE INDEX (PRIMARY)
WHERE s.queue = :queue AND s.slot IN (
  SELECT ${groupSlotOf('j.group_key')}
  FROM JSON_TABLE(:groups, '$[*]' COLUMNS (group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS j
)
LOCK IN SHARE MODE`;

/**
 * Holds the slots of `groups` in the transaction `db` runs in, so no FIFO claim takes a message of
 * those groups until it commits or rolls back. Answers how many slots it holds.
 */
export async function holdGroupSlots(db: Db, input: { queue: string; groups: readonly string[] }): Promise<number> {
  if (input.groups.length === 0) return 0;
  const rows = await db.query(HOLD_GROUP_SLOTS, { queue: input.queue, groups: [...new Set(input.groups)] }, { idempotent: true });
  return rows.length;
}

export { ENSURE_GROUP_SLOTS, HOLD_GROUP_SLOTS };
