/**
 * Keyed flow control (issue 24) under chaos: a queue with per-group limits drained by four
 * processes at once, two of them SIGKILLed mid-run; then, while the Data API refuses and slows a
 * fraction of its calls, the survivors and rounds of later drains finish the work. Judged from the
 * handlers' own start and end times: per group never more than `concurrency` in flight (a killed
 * drain's handler counts as running until the kill; its message's lease keeps the group's slot
 * until the lease ends, so its re-run after that is no overlap), no 1-s window with more than
 * 1.2 × `ratePerSecond` starts of a group (and none of 5 s above 5 × 1.05 × it: the suite's
 * tolerances), and every message done or dead as its script says, none lost, stuck or run twice
 * but after a lease expired.
 */
import { expect, it } from 'vitest';
import type { GroupLimits } from '../../lib/queues.js';
import { busiestWindow, mostAtOnce, TOLERANCES } from '../support/invariants/check.js';
import { useStack } from '../support/stack.js';
import {
  chaosQueue,
  checkInvariants,
  createDispatchLog,
  drainRounds,
  injectDataApiFaults,
  report,
  scriptMix,
  seedScripted,
  spawnDrain,
  summaryTotals,
  type ChaosMessage,
} from './harness.js';
import { checkedExits, killBusiest } from './kills.js';
import type { DispatchRecord, Step } from './scripts.js';

const stack = useStack();

/** Long enough that a group's concurrency binds as often as its rate (2 at once, about 5 a second). */
const MAX_SLEEP_MS = 400;

const MIX: [Step[], number, number][] = [
  [['sleep'], 82, 10],
  [['throw', 'sleep'], 10, 10],
  [['permanent'], 4, 10],
  [['throw'], 4, 3],
];

interface GroupedRun {
  /** Queue settings (chaosQueue): the groups' limits (none: fair alone), and any queue-wide limit beside them. */
  settings: { groups: GroupLimits; concurrency?: number };
  /** Each message's group, in enqueue order. */
  groupKeys: string[];
  title: string;
}

/** Per-group limit violations, from the handlers' own times; each names the group and the runs concerned. */
function groupLimitViolations(
  messages: readonly ChaosMessage[],
  dispatches: readonly DispatchRecord[],
  killedAtMs: ReadonlyMap<string, number>,
  limits: { concurrency: number; ratePerSecond: number },
): { violations: string[]; mostInFlight: number; busiestSecond: number } {
  const groupOf = new Map(messages.map((m) => [m.id, m.groupKey!]));
  const byGroup = new Map<string, DispatchRecord[]>();
  for (const d of dispatches) {
    const group = groupOf.get(d.messageId)!;
    byGroup.set(group, [...(byGroup.get(group) ?? []), d]);
  }
  const originMs = Math.min(...dispatches.map((d) => d.startedMs!));
  const at = (ms: number) => `+${((ms - originMs) / 1_000).toFixed(3)} s`;
  const describeRun = (d: DispatchRecord, endMs: number) => `${d.runner} ${at(d.startedMs!)}–${at(endMs)}${d.endedMs === undefined ? ' (killed)' : ''}`;
  const allowed = {
    second: Math.floor(TOLERANCES.rateSecondFactor * limits.ratePerSecond),
    fiveSeconds: Math.floor(5 * TOLERANCES.rateFiveSecondsFactor * limits.ratePerSecond),
  };

  const violations: string[] = [];
  let mostInFlight = 0;
  let busiestSecond = 0;
  for (const [group, runs] of byGroup) {
    const endOf = (d: DispatchRecord): number => {
      const endMs = d.endedMs ?? killedAtMs.get(d.runner);
      if (endMs === undefined) violations.push(`${group}: ${d.runner} recorded no end for ${d.messageId} attempt ${d.attempt} and was not killed`);
      return endMs ?? d.startedMs!;
    };
    const intervals = runs.map((d) => ({ d, fromMs: d.startedMs!, toMs: endOf(d) }));
    const most = mostAtOnce(intervals);
    mostInFlight = Math.max(mostInFlight, most.count);
    if (most.count > limits.concurrency) {
      const running = intervals.filter((i) => i.fromMs <= most.atMs && i.toMs > most.atMs).map((i) => describeRun(i.d, i.toMs));
      violations.push(`${group}: ${most.count} in flight at ${at(most.atMs)} (concurrency ${limits.concurrency}): ${running.join(', ')}`);
    }
    const starts = runs.map((d) => d.startedMs!);
    for (const [windowMs, limit] of [
      [1_000, allowed.second],
      [5_000, allowed.fiveSeconds],
    ] as const) {
      const busiest = busiestWindow(starts, windowMs);
      if (windowMs === 1_000) busiestSecond = Math.max(busiestSecond, busiest.count);
      if (busiest.count > limit) {
        const within = runs
          .filter((d) => d.startedMs! >= busiest.fromMs && d.startedMs! < busiest.fromMs + windowMs)
          .sort((a, b) => a.startedMs! - b.startedMs!)
          .map((d) => `${d.runner} ${at(d.startedMs!)}`);
        violations.push(
          `${group}: ${busiest.count} starts in the ${windowMs / 1_000} s from ${at(busiest.fromMs)} (rate ${limits.ratePerSecond}/s: at most ${limit}): ${within.join(', ')}`,
        );
      }
    }
  }
  return { violations, mostInFlight, busiestSecond };
}

async function drainGroupedUnderChaos(run: GroupedRun) {
  // Each test starts from an empty queue and log (the stack's database is the file's).
  for (const table of ['queue_messages', 'queue_groups', 'queue_group_permits', 'queue_permits']) await stack.sql.query(`DELETE FROM ${table}`);
  await stack.sql.query('DROP TABLE IF EXISTS chaos_dispatches');
  const log = await createDispatchLog(stack.sql);
  const mix = scriptMix(run.groupKeys.length, MIX);
  const messages = await seedScripted(
    stack.db,
    mix.map((m, i) => ({ ...m, groupKey: run.groupKeys[i]! })),
    { fair: run.settings.groups.fair === true },
  );
  const queue = chaosQueue(run.settings);
  // Woken runs that linger while their groups' limits or the queue's hold them back, as the
  // processes would otherwise end once every permit is another run's, before any is killed.
  const env = { CHAOS_QUEUE_SETTINGS: JSON.stringify(run.settings), CHAOS_MAX_SLEEP_MS: String(MAX_SLEEP_MS), CHAOS_LINGER_MS: '1500' };

  // Four processes at once. Once they have started 100 handlers, the two busiest still running are
  // SIGKILLed (some of their handlers running, more messages claimed and waiting for their groups'
  // start times): a run held back by the limits may end early, so a fixed victim might be gone.
  const children = [0, 1, 2, 3].map((i) => spawnDrain(stack, `groups.${i}`, env));
  const killedAtMs = await killBusiest(children, log, { moreDispatches: 100, count: 2, what: 'the drains dispatching' });
  // The faults start once the drains to kill are dead: a failed claim would end a run before it
  // got to its kill point. The survivors and the later rounds run under them.
  injectDataApiFaults(stack);
  const exits = await checkedExits(children, killedAtMs);

  const rounds = await drainRounds({ stack, log, runs: 3, queue, maxSleepMs: MAX_SLEEP_MS, deadline: Date.now() + 120_000 });
  const injected = stack.server.faults.injected();
  stack.server.faults.clear();

  const { counts, violations } = await checkInvariants(stack, messages, log);
  const dispatches = await log.all();
  const { concurrency, ratePerSecond } = run.settings.groups;
  const limits = concurrency === undefined || ratePerSecond === undefined ? undefined : { concurrency, ratePerSecond };
  const inGroups = limits === undefined ? undefined : groupLimitViolations(messages, dispatches, killedAtMs, limits);
  const queueWide = mostAtOnce(dispatches.map((d) => ({ fromMs: d.startedMs!, toMs: d.endedMs ?? killedAtMs.get(d.runner) ?? d.startedMs! })));
  const sigkilled = exits.filter((exit) => exit.signal === 'SIGKILL').length;
  const survivors = exits.flatMap((exit) => (exit.summary === undefined ? [] : [exit.summary]));
  report(run.title, counts, {
    groups: new Set(run.groupKeys).size,
    killed: sigkilled,
    rounds: rounds.rounds,
    faultsInjected: injected,
    ...(inGroups === undefined
      ? {}
      : { mostInFlightInAGroup: inGroups.mostInFlight, busiestSecondOfAGroup: inGroups.busiestSecond, groupLimitViolations: inGroups.violations.length }),
    mostAtOnce: queueWide.count,
    spanMs: Math.max(...dispatches.map((d) => d.endedMs ?? d.startedMs!)) - Math.min(...dispatches.map((d) => d.startedMs!)),
    ...summaryTotals([...survivors, ...rounds.summaries]),
  });
  expect(violations).toEqual([]);
  if (run.settings.concurrency !== undefined) expect(queueWide.count).toBeLessThanOrEqual(run.settings.concurrency);
  // And the test did what it says: drains died mid-run, faults fired, both limits were reached.
  expect(sigkilled).toBeGreaterThanOrEqual(1);
  expect(injected).toBeGreaterThan(0);
  expect(counts.leaseExpired).toBeGreaterThan(0);
  if (inGroups !== undefined && limits !== undefined) {
    expect(inGroups.violations).toEqual([]);
    expect(inGroups.mostInFlight).toBe(limits.concurrency);
    expect(inGroups.busiestSecond).toBeGreaterThanOrEqual(limits.ratePerSecond - 1);
  }
}

it('4 drain processes on a queue limited per group (2 at once, 5/s), 2 SIGKILLed, under Data API faults: limits held in every group, nothing lost or stuck', async () => {
  // 60 groups of 12, interleaved as messages would arrive.
  await drainGroupedUnderChaos({
    title: 'groups 2 at once and 5/s, 4 drains, faults and SIGKILLs',
    settings: { groups: { concurrency: 2, ratePerSecond: 5 } },
    groupKeys: Array.from({ length: 720 }, (_, i) => `g${i % 60}`),
  });
});

it('the same with fair: true and a queue-wide concurrency, 3 heavy groups enqueued first beside 60 light ones', async () => {
  await drainGroupedUnderChaos({
    title: 'fair groups 2 at once and 5/s, 24 at once queue-wide, 4 drains, faults and SIGKILLs',
    settings: { groups: { concurrency: 2, ratePerSecond: 5, fair: true }, concurrency: 24 },
    groupKeys: [...Array.from({ length: 120 }, (_, i) => `heavy${i % 3}`), ...Array.from({ length: 240 }, (_, i) => `light${i % 60}`)],
  });
});

it('fair alone (no per-group or queue-wide limits), 3 heavy groups enqueued first beside 60 light ones: nothing lost or stuck', async () => {
  await drainGroupedUnderChaos({
    title: 'fair groups without limits, 4 drains, faults and SIGKILLs',
    settings: { groups: { fair: true } },
    groupKeys: [...Array.from({ length: 120 }, (_, i) => `heavy${i % 3}`), ...Array.from({ length: 240 }, (_, i) => `light${i % 60}`)],
  });
});
