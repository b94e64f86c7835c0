/**
 * A FIFO queue drained by waves of four processes while the Data API fails a fraction of its
 * calls and three of the processes are SIGKILLed mid-batch; rounds of drains then finish the work.
 * Within every group: no message runs before the one ahead of it has ended (done or dead), and no
 * two runs overlap (from the handlers' own start and end times); every message ends as its script
 * says, none lost or stuck, none run twice except after a lease expired.
 */
import { expect, it } from 'vitest';
import { useStack } from '../support/stack.js';
import {
  chaosQueue,
  checkInvariants,
  createDispatchLog,
  drainRounds,
  report,
  scriptMix,
  seedScripted,
  spawnDrain,
  summaryTotals,
  type ChaosMessage,
  type DrainChild,
} from './harness.js';
import { checkedExits, killBusiest } from './kills.js';
import type { DispatchRecord } from './scripts.js';

const stack = useStack();

const GROUPS = 40;
const MESSAGES = 1_600;

/** Order and overlap violations within groups, from the dispatch log. */
function groupViolations(messages: readonly ChaosMessage[], dispatches: readonly DispatchRecord[]): string[] {
  const position = new Map(messages.map((m, i) => [m.id, { group: m.groupKey!, index: i }]));
  const byGroup = new Map<string, (DispatchRecord & { index: number })[]>();
  for (const d of dispatches) {
    const at = position.get(d.messageId)!;
    byGroup.set(at.group, [...(byGroup.get(at.group) ?? []), { ...d, index: at.index }]);
  }
  const violations: string[] = [];
  for (const [group, runs] of byGroup) {
    runs.sort((a, b) => a.startedMs! - b.startedMs! || a.index - b.index);
    for (let i = 1; i < runs.length; i++) {
      const before = runs[i - 1]!;
      const after = runs[i]!;
      if (after.index < before.index) violations.push(`${group}: message ${after.index} ran after ${before.index}, which was enqueued later`);
      // A run without an end was SIGKILLed with its process: nothing of it runs on.
      if (before.endedMs !== undefined && after.startedMs! < before.endedMs) {
        violations.push(`${group}: message ${after.index} started ${before.endedMs - after.startedMs!} ms before message ${before.index} ended`);
      }
    }
  }
  return violations;
}

it('drain processes in waves of 4 on a FIFO queue under injected faults and SIGKILLs: no order violation, no overlap within a group', async () => {
  const log = await createDispatchLog(stack.sql);
  const queue = chaosQueue({ fifo: true });
  const mix = scriptMix(MESSAGES, [
    [['sleep'], 85, 10],
    [['throw', 'sleep'], 8, 10],
    [['permanent'], 4, 10],
    [['throw'], 3, 3],
  ]);
  // Interleaved across groups, as messages would arrive.
  const messages = await seedScripted(
    stack.db,
    mix.map((m, i) => ({ ...m, groupKey: `g${i % GROUPS}` })),
  );

  const faults = stack.server.faults;
  faults.inject({ kind: 'resuming', probability: 0.03 });
  faults.inject({ kind: 'unavailable', probability: 0.03 });
  faults.inject({ kind: 'unavailable-after', probability: 0.01, operations: ['Execute'] });
  faults.inject({ kind: 'delay', probability: 0.05, delayMs: 300 });

  const env = { CHAOS_QUEUE_SETTINGS: JSON.stringify({ fifo: true }), CHAOS_MAX_SLEEP_MS: '30' };
  // Waves of four processes; in each, once the wave has dispatched a while, the busiest
  // processes still running are SIGKILLed mid-batch (a FIFO queue's work goes to whichever
  // drain took the groups' heads first, so a fixed victim might already have finished).
  const children: DrainChild[] = [];
  const killed = new Map<string, number>();
  // Two in the first wave, one in the second, and in a further wave (at most two more) any the
  // earlier ones could not kill: a run a claim fault ended early is gone before its turn (the
  // faults run from the start here), and a wave may end whole before it has dispatched enough.
  for (let wave = 1; wave <= 4 && (wave <= 2 || killed.size < 3); wave++) {
    const spawned = [0, 1, 2, 3].map((i) => spawnDrain(stack, `fifo${wave}.${i}`, env));
    children.push(...spawned);
    const count = wave === 1 ? 2 : 3 - killed.size;
    for (const [runner, atMs] of await killBusiest(spawned, log, { moreDispatches: 60, count, what: `wave ${wave} dispatching` })) killed.set(runner, atMs);
  }
  const exits = await checkedExits(children, killed);
  // Killed, not only signalled: a run may finish as the signal is sent.
  const sigkilled = exits.filter((exit) => exit.signal === 'SIGKILL').length;

  const rounds = await drainRounds({ stack, log, runs: 3, queue, deadline: Date.now() + 120_000 });
  const injected = faults.injected();
  faults.clear();
  const { counts, violations } = await checkInvariants(stack, messages, log);
  const inGroups = groupViolations(messages, await log.all());
  const survivors = exits.flatMap((exit) => (exit.summary === undefined ? [] : [exit.summary]));
  report('FIFO, drains in waves of 4, faults and SIGKILLs', counts, {
    groups: GROUPS,
    killed: sigkilled,
    rounds: rounds.rounds,
    faultsInjected: injected,
    orderOrOverlapViolations: inGroups.length,
    ...summaryTotals([...survivors, ...rounds.summaries]),
  });
  expect(violations).toEqual([]);
  expect(inGroups).toEqual([]);
  expect(sigkilled).toBeGreaterThanOrEqual(2);
  expect(injected).toBeGreaterThan(0);
});
