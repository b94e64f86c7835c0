/**
 * Setup data written straight over mysql2, so that setting up a measurement costs no Data API
 * calls and little time. Rows look like the product's own: UUIDv7 ids, waiting, due.
 */
import type mysql from 'mysql2/promise';
import { uuidv7 } from '../../lib/ids.js';

export const BENCH_TYPE = 'bench.noop';

/** A small, typical payload (an SMS-sized document). */
export function benchPayload(n: number): { n: number; to: string; text: string } {
  return { n, to: '+15550001111', text: 'Your code is 123456. It expires in 10 minutes.' };
}

/** The group of the `n`th seeded message when `groups` groups are dealt round-robin. */
export function seededGroupKey(n: number, groups: number): string {
  return `g${n % groups}`;
}

/** Inserts `count` due messages on `queue`; answers their ids in order. */
export async function seedDueMessages(
  pool: mysql.Pool,
  queue: string,
  count: number,
  options: {
    maxAttempts?: number;
    type?: string;
    payload?: (n: number) => unknown;
    /** Groups, messages dealt round-robin. */
    groups?: number;
    /**
     * The queue is fair: each message takes its turn within its group, as one enqueue of them all
     * gives it (lib/sql/fairRounds.ts) into a queue with no unfinished grouped messages yet.
     */
    fair?: boolean;
  } = {},
): Promise<string[]> {
  const now = new Date(Date.now() - 1_000);
  const ids: string[] = [];
  const chunk = 2_000;
  for (let start = 0; start < count; start += chunk) {
    const rows: unknown[][] = [];
    for (let n = start; n < Math.min(count, start + chunk); n++) {
      const id = uuidv7(now.getTime());
      const payload = JSON.stringify((options.payload ?? benchPayload)(n));
      ids.push(id);
      const row = [id, queue, options.type ?? BENCH_TYPE, payload, Buffer.byteLength(payload), 'waiting', 0, 0, options.maxAttempts ?? 3, now, now, now];
      // Group columns only when asked for: a schema before migration 006 has none (test/migrate.online).
      if (options.groups !== undefined) row.push(seededGroupKey(n, options.groups), seededGroupKey(n, options.groups));
      if (options.groups !== undefined && options.fair === true) row.push(Math.floor(n / options.groups) + 1);
      rows.push(row);
    }
    await pool.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, created_at, updated_at${options.groups === undefined ? '' : ', group_key, group_head'}${options.groups !== undefined && options.fair === true ? ', fair_round' : ''})
       VALUES ?`,
      [rows],
    );
  }
  return ids;
}

/**
 * `count` finished (done) messages in one INSERT … SELECT over a cross join of digit tables
 * (10^k rows, no recursion limit to raise on MySQL), ids that sort before any live message's.
 * Each belongs to one of 100 FIFO groups (finished, so out of the groups' heads), so the same
 * history weighs on the FIFO claim as on the plain one.
 */
export async function seedFinishedMessages(pool: mysql.Pool, queue: string, count: number): Promise<void> {
  const digits = Math.ceil(Math.log10(count));
  const tables = Array.from({ length: digits }, (_, i) => `d AS d${i}`).join(' CROSS JOIN ');
  const number = Array.from({ length: digits }, (_, i) => `d${i}.n * ${10 ** i}`).join(' + ');
  await pool.query(
    `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts,
       available_at, created_at, updated_at, finished_at, group_key)
     WITH d AS (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
                UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9),
          seq AS (SELECT ${number} AS n FROM ${tables})
     SELECT CONCAT('00000000-0000-7000-8000-', LPAD(n, 12, '0')), :queue, :type, '{"n": 0}', 8, 'done', 0, 1, 3,
            :at, :at, :at, :at, CONCAT('g', n % 100)
     FROM seq WHERE n < :count`,
    { queue, type: BENCH_TYPE, at: new Date(Date.now() - 3_600_000), count },
  );
}
