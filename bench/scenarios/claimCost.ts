/**
 * Whether history slows the claim: the drain's claim + read (lib/drain/claim.ts over mysql2, so
 * SQL cost only) timed on a table with no finished messages and on one with 1,000,000 of them in
 * the same queue, alternately, repetition after repetition.
 */
import type mysql from 'mysql2/promise';
import type { Db } from '../../lib/db/types.js';
import { claimMessages } from '../../lib/drain/claim.js';
import type { GroupLimits } from '../../lib/queues.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { CLAIM_BATCH } from '../../lib/sql/claimBatch.js';
import { rawDb } from '../lib/rawDb.js';
import { seedDueMessages, seedFinishedMessages } from '../lib/seed.js';
import { figure, type Figure } from '../lib/stats.js';

export interface ClaimCostResult {
  finishedRows: number;
  claimsPerRep: number;
  /** Median milliseconds per claim + read, per repetition. */
  emptyMs: Figure;
  fullMs: Figure;
  /** fullMs / emptyMs, per repetition. */
  ratio: Figure;
  /** The same for a FIFO queue's claim of 50 group heads and their followers (each claim's messages acked, untimed, so the next heads lead). */
  fifo: { emptyMs: Figure; fullMs: Figure; ratio: Figure };
  seedFinishedMs: number;
  explain: { claimSelect: unknown[]; claimUpdate: unknown[] };
}

/** The claim's row-picking part, which is what finished rows could slow down. */
const CLAIM_SELECT = `SELECT id FROM queue_messages
  WHERE queue = :queue AND finished_at IS NULL AND available_at <= :now
  ORDER BY priority DESC, available_at
  LIMIT :limit
  FOR UPDATE SKIP LOCKED`;

/** Which claim to time: a plain queue's (none), a FIFO queue's, or one with per-group limits. */
type TimedClaim = { fifo?: boolean; groups?: GroupLimits };

/** The times of `claims` claims of `batch` each, as a drain makes them (lib/drain/claim.ts), over `db`. */
export async function timeClaims(db: Db, queue: string, claims: number, batch: number, kind: TimedClaim = {}): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < claims; i++) {
    const started = performance.now();
    // A FIFO claim of n heads takes each one's follower too: n / 2 heads make a batch.
    const claim = await claimMessages(db, { queue, limit: kind.fifo === true ? batch / 2 : batch, now: new Date(), leaseMs: 600_000, ...kind });
    times.push(performance.now() - started);
    if (claim.claimed < batch) throw new Error(`claim ${i} took ${claim.claimed} of ${batch}: seed more due messages`);
    // The groups' next messages lead once these are done.
    if (kind.fifo === true) await markHeldDone(db, { held: claim.messages, now: new Date() });
  }
  return times;
}

/** Replaces the live messages of `pool`'s table with `count` due ones (dealt over `groups`, with turns when `fair`), keeping finished history. */
export async function freshDue(pool: mysql.Pool, queue: string, count: number, groups?: { groups: number; fair: boolean }): Promise<void> {
  await pool.query('DELETE FROM queue_messages WHERE finished_at IS NULL');
  await seedDueMessages(pool, queue, count, groups ?? {});
}

/**
 * Waits (at most 15 s) for InnoDB to write back the pages the bulk insert dirtied, so the
 * measurement with history is not also paying for that background flushing.
 */
async function settleBufferPool(pool: mysql.Pool, log: (line: string) => void): Promise<void> {
  const started = performance.now();
  for (;;) {
    const [rows] = await pool.query("SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', 'Innodb_buffer_pool_pages_total')");
    const status = Object.fromEntries((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, Number(r.Value)]));
    const dirty = status.Innodb_buffer_pool_pages_dirty! / status.Innodb_buffer_pool_pages_total!;
    const waited = performance.now() - started;
    if (dirty < 0.02 || waited > 15_000) {
      log(`  buffer pool ${(dirty * 100).toFixed(1)}% dirty after waiting ${(waited / 1_000).toFixed(1)} s`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Gives `pool`'s (empty) database the history: `finishedRows` finished messages of `queue`, the
 * buffer pool settled after. Answers how long the insert took. Shared by the claim and groups
 * sections, which both time a claim with and without it.
 */
export async function seedHistory(pool: mysql.Pool, queue: string, finishedRows: number, log: (line: string) => void): Promise<number> {
  const seedStarted = performance.now();
  await seedFinishedMessages(pool, queue, finishedRows);
  const seedFinishedMs = performance.now() - seedStarted;
  log(`  ${finishedRows.toLocaleString('en-US')} finished messages seeded in ${(seedFinishedMs / 1_000).toFixed(1)} s`);
  await settleBufferPool(pool, log);
  return seedFinishedMs;
}

export async function measureClaimCost(options: {
  /** A migrated, empty database. */
  emptyPool: mysql.Pool;
  /** Another migrated database, with the history (seedHistory). */
  fullPool: mysql.Pool;
  queue: string;
  finishedRows: number;
  seedFinishedMs: number;
  claims: number;
  batch: number;
  reps: number;
  log: (line: string) => void;
}): Promise<ClaimCostResult> {
  const { emptyPool, fullPool, queue, claims, batch, seedFinishedMs } = options;
  const due = (claims + 5) * batch;

  const empty: number[] = [];
  const full: number[] = [];
  const ratios: number[] = [];
  const fifo = { empty: [] as number[], full: [] as number[], ratios: [] as number[] };
  for (let rep = 0; rep < options.reps; rep++) {
    const medians: number[] = [];
    const fifoMedians: number[] = [];
    for (const pool of [emptyPool, fullPool]) {
      await freshDue(pool, queue, due);
      await pool.query('ANALYZE TABLE queue_messages');
      await timeClaims(rawDb(pool), queue, 5, batch); // warm the buffer pool and the connection
      medians.push(figure(await timeClaims(rawDb(pool), queue, claims, batch)).median);
      // batch groups; each claim takes the heads of half of them and their followers: batch messages.
      await freshDue(pool, queue, 2 * due, { groups: batch, fair: false });
      await timeClaims(rawDb(pool), queue, 5, batch, { fifo: true });
      fifoMedians.push(figure(await timeClaims(rawDb(pool), queue, claims, batch, { fifo: true })).median);
    }
    empty.push(medians[0]!);
    full.push(medians[1]!);
    ratios.push(medians[1]! / medians[0]!);
    fifo.empty.push(fifoMedians[0]!);
    fifo.full.push(fifoMedians[1]!);
    fifo.ratios.push(fifoMedians[1]! / fifoMedians[0]!);
    options.log(
      `  rep ${rep + 1}: ${medians[0]!.toFixed(2)} ms empty, ${medians[1]!.toFixed(2)} ms with history; ` +
        `FIFO ${fifoMedians[0]!.toFixed(2)} ms empty, ${fifoMedians[1]!.toFixed(2)} ms with history`,
    );
  }

  const params = { queue, now: new Date(), limit: batch, leaseToken: 'explain', leaseUntil: new Date() };
  const [claimSelect] = await fullPool.query(`EXPLAIN ${CLAIM_SELECT}`, params);
  const [claimUpdate] = await fullPool.query(`EXPLAIN ${CLAIM_BATCH}`, params);
  return {
    finishedRows: options.finishedRows,
    claimsPerRep: claims,
    emptyMs: figure(empty),
    fullMs: figure(full),
    ratio: figure(ratios),
    fifo: { emptyMs: figure(fifo.empty), fullMs: figure(fifo.full), ratio: figure(fifo.ratios) },
    seedFinishedMs,
    explain: { claimSelect: claimSelect as unknown[], claimUpdate: claimUpdate as unknown[] },
  };
}
