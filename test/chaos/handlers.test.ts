/**
 * Handlers that misbehave: throw (retried, then done or dead), throw PermanentError (dead at
 * once), hang past their timeout ignoring their abort signal (abandoned, retried), and return
 * after their lease has expired (a drainer frozen mid-handler while another takes its messages).
 */
import { expect, it } from 'vitest';
import { useStack } from '../support/stack.js';
import {
  checkInvariants,
  createDispatchLog,
  drainRounds,
  LEASE_SECONDS,
  report,
  scriptMix,
  seedScripted,
  spawnDrain,
  summaryTotals,
  waitFor,
} from './harness.js';

const stack = useStack();

it('throwing and hanging handlers end exactly as scripted, no attempt dispatched twice', async () => {
  await stack.sql.query('DELETE FROM queue_messages');
  const log = await createDispatchLog(stack.sql);
  const messages = await seedScripted(
    stack.db,
    scriptMix(1_000, [
      [['ok'], 30, 5],
      [['throw', 'ok'], 15, 5],
      [['throw', 'throw', 'ok'], 10, 5],
      [['throw'], 10, 3],
      [['permanent'], 10, 5],
      [['throw', 'permanent'], 5, 5],
      [['hang', 'ok'], 10, 5],
      [['hang'], 5, 2],
      [['hang', 'throw', 'ok'], 5, 5],
    ]),
  );
  const rounds = await drainRounds({ stack, log, runs: 2, deadline: Date.now() + 60_000 });
  const { counts, violations } = await checkInvariants(stack, messages, log);
  report('throwing and hanging handlers', counts, { rounds: rounds.rounds, ...summaryTotals(rounds.summaries) });
  // The invariants allow a redelivery only after a lease expired; nothing here is killed or frozen,
  // so any would come from a machine stalled past the 4 s lease, and is printed above.
  expect(violations).toEqual([]);
  expect(counts.dead).toBeGreaterThan(0);
});

it('a drainer frozen past its lease: another runs its messages once more, its late outcomes change nothing', async () => {
  await stack.sql.query('DELETE FROM queue_messages');
  await stack.sql.query('DROP TABLE IF EXISTS chaos_dispatches');
  const log = await createDispatchLog(stack.sql);
  // One claim takes them all: two handlers that freeze their process past the lease, and
  // ordinary messages whose outcomes wait behind the freeze.
  const messages = await seedScripted(stack.db, [
    { script: { steps: ['stall', 'ok'] }, maxAttempts: 5 },
    { script: { steps: ['stall', 'ok'] }, maxAttempts: 5 },
    ...scriptMix(38, [[['ok'], 1, 5]]),
  ]);
  const stallMs = (LEASE_SECONDS + 2) * 1_000;
  const frozen = spawnDrain(stack, 'frozen', { CHAOS_STALL_MS: String(stallMs) });
  let running = true;
  const exited = frozen.exited.finally(() => (running = false));
  await waitFor(async () => (await log.count('frozen')) > 0, 30_000, 'the frozen drainer to dispatch');

  // Other drainers keep running while it is frozen; they may take its messages once its lease ends.
  const rounds = await drainRounds({ stack, log, runs: 1, deadline: Date.now() + 60_000, busy: () => running });
  const exit = await exited;
  expect(exit.code, exit.output).toBe(0);

  const { counts, violations } = await checkInvariants(stack, messages, log);
  const frozenSummary = exit.summary!;
  report('frozen past its lease', counts, {
    stallMs,
    rounds: rounds.rounds,
    frozenLostLeases: frozenSummary.lostLeases,
    ...summaryTotals([frozenSummary, ...rounds.summaries]),
  });
  expect(violations).toEqual([]);
  // Both stalled messages ran again elsewhere; the frozen drainer's late writes found their leases gone.
  expect(counts.redelivered).toBeGreaterThanOrEqual(2);
  expect(frozenSummary.lostLeases).toBeGreaterThanOrEqual(2);
});
