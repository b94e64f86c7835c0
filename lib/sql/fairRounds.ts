import type { Db } from '../db/types.js';
import { FAIR_ORDER } from './groupLimits.js';
import type { NewMessage } from './insertMessages.js';

/*
 * A fair queue's turns (schema/migrations/014): a message enqueued into group g takes the turn
 * after max(g's last unfinished message's turn, the queue's front), where the front is the turn of
 * the due message a fair claim takes next (lib/sql/groupLimits.ts reads in the same order). This is
 * start-time fair queueing with one unit per message: a new group starts at the front, a group's
 * backlog holds turns ahead of it, and a claim in turn order takes every group's next message
 * before any group's one after.
 *
 * A plain read before the insert, not a subquery of it: INSERT … SELECT reads with shared locks
 * (REPEATABLE READ), and a producer's open transaction (the outbox) would then hold the group's
 * last message against the claim that leases it. Two producers of one group that read at once give
 * their messages the same turn: both keep their place behind the group's earlier ones, and the
 * tie is broken by due time. A turn NULL (before 014, or a queue made fair later) counts as 0.
 */
const FAIR_ROUND_BASES = `
SELECT j.group_key,
       COALESCE((SELECT m.fair_round FROM queue_messages AS m FORCE INDEX (ix_queue_messages_group)
                 WHERE m.queue = :queue AND m.group_head = j.group_key
                 ORDER BY m.id DESC LIMIT 1), 0) AS last_round,
       COALESCE((SELECT f.fair_round FROM queue_messages AS f FORCE INDEX (ix_queue_messages_fair)
                 WHERE f.group_queue = :queue AND f.fair_due_at <= :now
                 ORDER BY ${FAIR_ORDER('f')} LIMIT 1), 0) AS front
FROM JSON_TABLE(:groups, '$[*]' COLUMNS (group_key VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PATH '$')) AS j`;

/** Per group given, the turn its next message follows: a batch's k-th message of the group takes base + k. */
export async function readFairRoundBases(db: Db, input: { queue: string; groups: readonly string[]; now: Date }): Promise<Map<string, number>> {
  if (input.groups.length === 0) return new Map();
  const rows = await db.query(FAIR_ROUND_BASES, { queue: input.queue, groups: input.groups, now: input.now }, { idempotent: true });
  return new Map(rows.map((row) => [row.group_key as string, Math.max(Number(row.last_round), Number(row.front))]));
}

/** A fair queue's messages with their turns within their groups, in batch order, as above: one read. */
export async function withFairRounds(db: Db, queue: string, messages: readonly NewMessage[], now: Date): Promise<NewMessage[]> {
  const groups = [...new Set(messages.map((message) => message.groupKey).filter((key) => key != null))];
  const next = await readFairRoundBases(db, { queue, groups, now });
  return messages.map((message) => {
    if (message.groupKey == null) return message;
    const round = (next.get(message.groupKey) ?? 0) + 1;
    next.set(message.groupKey, round);
    return { ...message, fairRound: round };
  });
}

export { FAIR_ROUND_BASES };
