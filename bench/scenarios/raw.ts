/**
 * The physical limit: the drain's own claim, read and settle functions (lib/drain/claim.ts,
 * lib/sql/markHeldDone.ts, so the very same SQL text) and the enqueue's insert, run directly over
 * mysql2 with no Data API, SDK or HTTP in between. Every Data API figure is reported as a ratio
 * to its raw counterpart.
 */
import { inBatches } from '../lib/batches.js';
import type mysql from 'mysql2/promise';
import { claimMessages } from '../../lib/drain/claim.js';
import { uuidv7 } from '../../lib/ids.js';
import { markHeldDone } from '../../lib/sql/markHeldDone.js';
import { insertMessages, type NewMessage } from '../../lib/sql/insertMessages.js';
import { rawDb } from '../lib/rawDb.js';
import { BENCH_TYPE, benchPayload } from '../lib/seed.js';
import { ratePerSecond } from '../lib/stats.js';

export interface RawResult {
  messages: number;
  ms: number;
  perSecond: number;
  /** Statements run, the raw counterpart of Data API calls. */
  statements: number;
  /** Statements that deadlocked and were run again. */
  deadlocks: number;
}

/**
 * Drains `queue` with `loops` independent claim → read → ack loops, `batch` rows per claim,
 * until a claim comes back short. `loops` > 1 matches a drainer that keeps several claims in flight.
 */
export async function rawDrain(pool: mysql.Pool, queue: string, batch: number, loops: number): Promise<RawResult> {
  const db = rawDb(pool);
  let messages = 0;
  const loop = async () => {
    for (;;) {
      const claim = await claimMessages(db, { queue, limit: batch, now: new Date(), leaseMs: 60_000 });
      if (claim.claimed === 0) return;
      // Not `messages += await …`: that reads `messages` before the await and loses the other loops' counts.
      const acked = await markHeldDone(db, { held: claim.messages, now: new Date() });
      messages += acked;
      if (claim.claimed < batch) return;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: loops }, loop));
  const ms = performance.now() - started;
  return { messages, ms, perSecond: ratePerSecond(messages, ms), statements: db.stats.calls, deadlocks: db.stats.byOperation.Deadlock ?? 0 };
}

/** The enqueue's insert of `count` messages, `batch` per statement, `inFlight` statements at once. */
export async function rawEnqueue(pool: mysql.Pool, queue: string, count: number, batch: number, inFlight: number): Promise<RawResult> {
  const db = rawDb(pool);
  const ms = await inBatches(count, batch, inFlight, async (first, size) => {
    const now = new Date();
    const messages: NewMessage[] = Array.from({ length: size }, (_, i) => ({
      id: uuidv7(now.getTime()),
      queue,
      type: BENCH_TYPE,
      payloadJson: JSON.stringify(benchPayload(first + i)),
      priority: 0,
      maxAttempts: 3,
      availableAt: now,
      dedupKey: null,
    }));
    await insertMessages(db, messages, now);
  });
  return { messages: count, ms, perSecond: ratePerSecond(count, ms), statements: db.stats.calls, deadlocks: db.stats.byOperation.Deadlock ?? 0 };
}
