/**
 * The best plain SQL for the queue's work on the same database and table, written as a developer
 * with mysql2 and no Data API constraint would (transactions, positional multi-row VALUES, id
 * lists): the baseline every figure of the product is a ratio to. It keeps the work equal (the
 * same rows, indexes and state changes: claim with SKIP LOCKED in priority and due order, attempts
 * counted, lease deadline set, then finished), not the product's promises (no lease token proven
 * on the finish, no paging of payloads by bytes, no dedup answer).
 */
import { inBatches } from '../lib/batches.js';
import type mysql from 'mysql2/promise';
import { uuidv7 } from '../../lib/ids.js';
import { BENCH_TYPE, benchPayload } from '../lib/seed.js';
import { ratePerSecond } from '../lib/stats.js';
import type { RawResult } from './raw.js';

/** `loops` loops of: BEGIN; SELECT … FOR UPDATE SKIP LOCKED; UPDATE by id; COMMIT; then UPDATE … done by id. */
export async function plainDrain(pool: mysql.Pool, queue: string, batch: number, loops: number): Promise<RawResult> {
  let messages = 0;
  let statements = 0;
  let deadlocks = 0;
  const loop = async () => {
    for (;;) {
      let ids: string[];
      try {
        ids = await plainClaim(pool, queue, batch);
        statements += ids.length > 0 ? 4 : 3;
      } catch (error) {
        // A deadlock between two claims rolls one back; it claims again, as a real worker would.
        if ((error as { errno?: number }).errno !== 1213) throw error;
        deadlocks++;
        continue;
      }
      if (ids.length === 0) return;
      await plainFinish(pool, ids);
      statements++;
      messages += ids.length;
      if (ids.length < batch) return;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: loops }, loop));
  const ms = performance.now() - started;
  return { messages, ms, perSecond: ratePerSecond(messages, ms), statements, deadlocks };
}

/** BEGIN; SELECT … FOR UPDATE SKIP LOCKED; UPDATE by id; COMMIT: the claimed ids (rolled back on an error). */
export async function plainClaim(pool: mysql.Pool, queue: string, batch: number): Promise<string[]> {
  const connection = await pool.getConnection();
  try {
    await connection.query('BEGIN');
    const [rows] = await connection.query(
      `SELECT id, type, payload, attempts, max_attempts FROM queue_messages
       WHERE queue = ? AND finished_at IS NULL AND available_at <= NOW(3)
       ORDER BY priority DESC, available_at LIMIT ? FOR UPDATE SKIP LOCKED`,
      [queue, batch],
    );
    const ids = (rows as { id: string }[]).map((row) => row.id);
    if (ids.length > 0) {
      await connection.query(
        `UPDATE queue_messages SET status = 'running', attempts = attempts + 1, available_at = NOW(3) + INTERVAL 60 SECOND, updated_at = NOW(3)
         WHERE id IN (?)`,
        [ids],
      );
    }
    await connection.query('COMMIT');
    return ids;
  } catch (error) {
    await connection.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    connection.release();
  }
}

/** UPDATE … done by id. */
export async function plainFinish(pool: mysql.Pool, ids: readonly string[]): Promise<void> {
  await pool.query(`UPDATE queue_messages SET status = 'done', finished_at = NOW(3), updated_at = NOW(3) WHERE id IN (?)`, [ids]);
}

/** `count` messages by multi-row `INSERT … VALUES`, `batch` rows per statement, `inFlight` at once. */
export async function plainInsert(pool: mysql.Pool, queue: string, count: number, batch: number, inFlight: number): Promise<RawResult> {
  let statements = 0;
  const ms = await inBatches(count, batch, inFlight, async (first, size) => {
    const now = new Date();
    const rows = Array.from({ length: size }, (_, i) => {
      const payload = JSON.stringify(benchPayload(first + i));
      return [uuidv7(now.getTime()), queue, BENCH_TYPE, payload, Buffer.byteLength(payload), 'waiting', 0, 0, 3, now, null, now, now];
    });
    await pool.query(
      `INSERT INTO queue_messages (id, queue, type, payload, payload_bytes, status, priority, attempts, max_attempts, available_at, dedup_key, created_at, updated_at)
       VALUES ?`,
      [rows],
    );
    statements++;
  });
  return { messages: count, ms, perSecond: ratePerSecond(count, ms), statements, deadlocks: 0 };
}
