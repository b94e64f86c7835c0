/**
 * Batch handlers (lib/drain/batchDispatch.ts) in drain processes SIGKILLed mid-batch; then later
 * runs, while the Data API fails a fraction of its calls (the cluster resuming, 503s before and
 * after the statement ran, slow calls), finish the work once the dead runs' leases expire.
 * Nothing may be lost or stuck, per-message outcomes end as scripted, and only messages whose
 * lease expired may run twice.
 */
import { expect, it } from 'vitest';
import { useStack } from '../support/stack.js';
import {
  checkInvariants,
  createDispatchLog,
  drainRounds,
  injectDataApiFaults,
  killAfter,
  report,
  scriptMix,
  seedScripted,
  spawnDrain,
  summaryTotals,
  type DrainChild,
} from './harness.js';

const stack = useStack();

const BATCH = { maxSize: 50 };

it('batch handlers under Data API faults, in drain processes SIGKILLed mid-batch: later runs finish their work, redelivering only expired leases', async () => {
  const log = await createDispatchLog(stack.sql);
  const messages = await seedScripted(
    stack.db,
    scriptMix(2_000, [
      [['sleep'], 80, 10],
      [['throw', 'sleep'], 10, 10],
      [['throw'], 5, 3],
      [['permanent'], 5, 10],
    ]),
  );
  const env = { CHAOS_MAX_SLEEP_MS: '40', CHAOS_BATCH_SIZE: String(BATCH.maxSize) };

  // Three processes, each killed after 100–300 dispatches (two to six batches), the rest left to later runs.
  const children: DrainChild[] = [0, 1, 2].map((i) => spawnDrain(stack, `batch.${i}`, env));
  const killed = await Promise.all(children.map((child, i) => killAfter(child, log, [100, 200, 300][i]!)));
  // The faults start once the processes are killed: a failed claim could end a run before it got
  // to the batches it is to be killed in. The later rounds' batches run under them.
  injectDataApiFaults(stack);
  const exits = await Promise.all(children.map((child) => child.exited));
  for (const [i, exit] of exits.entries()) {
    if (killed[i]) expect(exit.signal).toBe('SIGKILL');
    else expect(exit.code, exit.output).toBe(0);
  }

  const rounds = await drainRounds({ stack, log, runs: 2, deadline: Date.now() + 90_000, batch: BATCH });
  stack.server.faults.clear();
  const { counts, violations } = await checkInvariants(stack, messages, log);
  report('batch handlers, faults and SIGKILL mid-batch', counts, {
    processes: children.length,
    killed: killed.filter(Boolean).length,
    rounds: rounds.rounds,
    ...summaryTotals(rounds.summaries),
  });
  expect(violations).toEqual([]);
  expect(killed.filter(Boolean).length).toBeGreaterThanOrEqual(1);
  expect(counts.dead).toBeGreaterThan(0);
  expect(rounds.rounds).toBeGreaterThan(0);
});
