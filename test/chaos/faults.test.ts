/**
 * Eight drain runs at once over 10,000 messages while the Data API fails a fraction of its calls:
 * the cluster resuming, 503s before and after the statement ran, slow calls; meanwhile outbox
 * enqueues run in Data API transactions, half of them rolled back. Rounds of drains run until the
 * queue is empty, as the schedule would; then every message must have ended as its script says,
 * none dispatched twice except after a lease expiry, every outbox batch stored whole or not at
 * all, and no transaction left open.
 */
import { expect, it } from 'vitest';
import { enqueue } from '../../lib/enqueue.js';
import { useStack } from '../support/stack.js';
import {
  CHAOS_QUEUE,
  chaosApp,
  chaosDb,
  checkInvariants,
  createDispatchLog,
  drainRounds,
  injectDataApiFaults,
  report,
  scriptMix,
  seedScripted,
  summaryTotals,
  type ChaosMessage,
} from './harness.js';
import { CHAOS_TYPE, scriptedJobType } from './scripts.js';

const stack = useStack();

class RolledBack extends Error {}

interface OutboxBatch {
  ids: string[];
  /** committed: Commit answered; rolledBack: the caller rolled back; failed: a fault ended it, outcome to be read. */
  outcome: 'committed' | 'rolledBack' | 'failed';
}

it('8 drains at once under injected faults lose nothing and finish every message as scripted', async () => {
  const log = await createDispatchLog(stack.sql);
  const seeded = await seedScripted(
    stack.db,
    scriptMix(10_000, [
      [['ok'], 80, 10],
      [['throw', 'ok'], 8, 10],
      [['throw', 'throw', 'ok'], 4, 10],
      [['permanent'], 3, 10],
      [['throw'], 3, 3],
      [['hang', 'ok'], 2, 10],
    ]),
  );

  const faults = stack.server.faults;
  injectDataApiFaults(stack);

  const outbox = async (): Promise<OutboxBatch[]> => {
    const app = chaosApp(chaosDb(stack.endpoint, stack.database), scriptedJobType({ record: () => {}, runner: 'outbox', timeoutMs: 1_000 }));
    const batches: OutboxBatch[] = [];
    for (let t = 0; t < 30; t++) {
      const rollback = t % 2 === 1;
      const batch: OutboxBatch = { ids: [], outcome: 'failed' };
      batches.push(batch);
      try {
        await app.db.transaction(async (tx) => {
          const messages = Array.from({ length: 20 }, (_, i) => ({ type: CHAOS_TYPE, payload: { steps: ['ok'], n: 100_000 + t * 20 + i } }));
          // Assigned, not appended: a deadlock re-runs this whole function.
          batch.ids = (await enqueue(app, CHAOS_QUEUE, messages, { db: tx })).map((m) => m.id);
          if (rollback) throw new RolledBack();
        });
        batch.outcome = 'committed';
      } catch (error) {
        batch.outcome = error instanceof RolledBack ? 'rolledBack' : 'failed';
      }
    }
    return batches;
  };

  let rounds;
  let batches: OutboxBatch[];
  try {
    [rounds, batches] = await Promise.all([drainRounds({ stack, log, runs: 8, deadline: Date.now() + 150_000 }), outbox()]);
    // Outbox messages committed after the last round began may still be waiting.
    const more = await drainRounds({ stack, log, runs: 2, deadline: Date.now() + 60_000 });
    rounds = { rounds: rounds.rounds + more.rounds, summaries: [...rounds.summaries, ...more.summaries] };
  } finally {
    faults.clear();
  }

  // Each outbox batch is stored whole or not at all, whatever faults hit its transaction.
  const messages: ChaosMessage[] = [...seeded];
  const outboxCounts = { committed: 0, rolledBack: 0, failedStored: 0, failedNotStored: 0 };
  for (const batch of batches) {
    const [[row]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_messages WHERE id IN (?)', [
      batch.ids.length > 0 ? batch.ids : ['-'],
    ])) as unknown as [[{ n: number }]];
    const stored = Number(row.n);
    if (batch.outcome === 'committed') {
      outboxCounts.committed++;
      expect(stored).toBe(batch.ids.length);
    } else if (batch.outcome === 'rolledBack') {
      outboxCounts.rolledBack++;
      expect(stored).toBe(0);
    } else {
      expect([0, batch.ids.length]).toContain(stored);
      if (stored > 0) outboxCounts.failedStored++;
      else outboxCounts.failedNotStored++;
    }
    if (stored > 0) messages.push(...batch.ids.map((id) => ({ id, script: { steps: ['ok' as const] }, maxAttempts: 5 })));
  }

  const { counts, violations } = await checkInvariants(stack, messages, log);
  report('8 drains, faults injected', counts, {
    rounds: rounds.rounds,
    faultsInjected: faults.injected(),
    serverCalls: stack.server.stats().calls,
    ...outboxCounts,
    ...summaryTotals(rounds.summaries),
  });
  expect(violations).toEqual([]);
  expect(counts.done + counts.dead).toBe(messages.length);
  expect(faults.injected()).toBeGreaterThan(0);
});
