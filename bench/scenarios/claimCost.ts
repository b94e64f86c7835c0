/**
 * Whether history slows the claim: the claim + read of the drain (lib/drain/claim.ts over mysql2,
 * so SQL cost only) timed with no finished messages in the table, then with 1,000,000 of them.
 */
import type mysql from 'mysql2/promise';
import { claimMessages } from '../../lib/drain/claim.js';
import { CLAIM_BATCH } from '../../lib/sql/claimBatch.js';
import { rawDb } from '../lib/rawDb.js';
import { resetQueueTables } from '../lib/database.js';
import { seedDueMessages, seedFinishedMessages } from '../lib/seed.js';
import { figure, type Figure } from '../lib/stats.js';

export interface ClaimCostResult {
  finishedRows: number;
  /** Milliseconds per claim + read, over `claims` claims. */
  emptyMs: Figure;
  fullMs: Figure;
  /** fullMs.median / emptyMs.median. */
  ratio: number;
  seedFinishedMs: number;
  explain: { claimSelect: unknown[]; claimUpdate: unknown[] };
}

const CLAIM_SELECT = `SELECT id FROM queue_messages
  WHERE queue = :queue AND finished_at IS NULL AND available_at <= :now
  ORDER BY priority DESC, available_at
  LIMIT :limit
  FOR UPDATE SKIP LOCKED`;

async function timeClaims(pool: mysql.Pool, queue: string, claims: number, batch: number): Promise<number[]> {
  const db = rawDb(pool);
  const times: number[] = [];
  for (let i = 0; i < claims; i++) {
    const started = performance.now();
    const claim = await claimMessages(db, { queue, limit: batch, now: new Date(), leaseMs: 600_000 });
    times.push(performance.now() - started);
    if (claim.claimed < batch) throw new Error(`claim ${i} took ${claim.claimed} of ${batch}: seed more due messages`);
  }
  return times;
}

export async function measureClaimCost(pool: mysql.Pool, options: { queue: string; finishedRows: number; claims: number; batch: number }): Promise<ClaimCostResult> {
  const { queue, claims, batch } = options;
  const due = claims * batch;

  await resetQueueTables(pool);
  await seedDueMessages(pool, queue, due);
  await pool.query('ANALYZE TABLE queue_messages');
  await timeClaims(pool, queue, 5, batch); // warm the buffer pool and the connections
  await resetQueueTables(pool);
  await seedDueMessages(pool, queue, due);
  const empty = await timeClaims(pool, queue, claims, batch);

  await resetQueueTables(pool);
  const seedStarted = performance.now();
  await seedFinishedMessages(pool, queue, options.finishedRows);
  const seedFinishedMs = performance.now() - seedStarted;
  await seedDueMessages(pool, queue, due + 5 * batch);
  await pool.query('ANALYZE TABLE queue_messages');
  await timeClaims(pool, queue, 5, batch);
  const full = await timeClaims(pool, queue, claims, batch);

  const params = { queue, now: new Date(), limit: batch, leaseToken: 'explain', leaseUntil: new Date() };
  const [claimSelect] = await pool.query(`EXPLAIN ${CLAIM_SELECT}`, params);
  const [claimUpdate] = await pool.query(`EXPLAIN ${CLAIM_BATCH}`, params);

  const emptyMs = figure(empty);
  const fullMs = figure(full);
  return {
    finishedRows: options.finishedRows,
    emptyMs,
    fullMs,
    ratio: fullMs.median / emptyMs.median,
    seedFinishedMs,
    explain: { claimSelect: claimSelect as unknown[], claimUpdate: claimUpdate as unknown[] },
  };
}
