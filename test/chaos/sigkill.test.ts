/**
 * Drain runs in real child processes, SIGKILLed while their handlers are running (dispatched,
 * not settled), then later runs finish the work once the dead runs' leases expire. Nothing may
 * be lost or stuck, and only messages whose lease expired may run twice.
 */
import { expect, it } from 'vitest';
import { useStack } from '../support/stack.js';
import {
  checkInvariants,
  createDispatchLog,
  drainRounds,
  killAfter,
  report,
  scriptMix,
  seedScripted,
  spawnDrain,
  summaryTotals,
  type DrainChild,
} from './harness.js';

const stack = useStack();

it('drain processes SIGKILLed mid-batch: later runs finish their work, redelivering only expired leases', async () => {
  const log = await createDispatchLog(stack.sql);
  const messages = await seedScripted(
    stack.db,
    scriptMix(4_000, [
      [['sleep'], 85, 10],
      [['throw', 'sleep'], 10, 10],
      [['permanent'], 5, 10],
    ]),
  );
  const env = { CHAOS_MAX_SLEEP_MS: '40' };

  // Two waves of three processes: each killed after 60–200 dispatches, except the last of the
  // second wave, which ends its run normally after 500 messages; the rest is left to later runs.
  const killed: boolean[] = [];
  const children: DrainChild[] = [];
  for (const wave of [1, 2]) {
    const spawned = [0, 1, 2].map((i) => spawnDrain(stack, `wave${wave}.${i}`, wave === 2 && i === 2 ? { ...env, CHAOS_MAX_MESSAGES: '500' } : env));
    children.push(...spawned);
    const targets = wave === 1 ? [60, 120, 200] : [60, 150, undefined];
    killed.push(...(await Promise.all(spawned.map((child, i) => (targets[i] === undefined ? Promise.resolve(false) : killAfter(child, log, targets[i]))))));
  }
  const exits = await Promise.all(children.map((child) => child.exited));
  for (const [i, exit] of exits.entries()) {
    if (killed[i]) expect(exit.signal).toBe('SIGKILL');
    else expect(exit.code, exit.output).toBe(0);
  }

  const rounds = await drainRounds({ stack, log, runs: 2, deadline: Date.now() + 90_000 });
  const { counts, violations } = await checkInvariants(stack, messages, log);
  const survivors = exits.flatMap((exit) => (exit.summary === undefined ? [] : [exit.summary]));
  report('SIGKILL mid-batch', counts, {
    processes: children.length,
    killed: killed.filter(Boolean).length,
    rounds: rounds.rounds,
    ...summaryTotals([...survivors, ...rounds.summaries]),
  });
  expect(violations).toEqual([]);
  expect(killed.filter(Boolean).length).toBeGreaterThanOrEqual(3);
  // The kills left claimed messages behind: their leases expired and they were claimed again.
  expect(counts.leaseExpired).toBeGreaterThan(0);
  expect(rounds.rounds).toBeGreaterThan(0);
});
