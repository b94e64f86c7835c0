/**
 * Heartbeats under killed drains and Data API faults (issue 25): handlers that run up to twice
 * past a 6 s lease, in drain processes of which one is SIGKILLed mid-run, while the Data API fails
 * a fraction of its calls (the cluster resuming, 503s before and after the statement ran, slow
 * calls). The survivors' heartbeats keep their leases (a failed beat is sent again while a third of
 * the lease is left), so their messages run once however long their handlers take; the killed
 * drain's come back one lease after its last beat, and later runs finish them. Nothing may be
 * lost or stuck.
 */
import { expect, it } from 'vitest';
import { useStack } from '../support/stack.js';
import {
  checkInvariants,
  chaosQueue,
  createDispatchLog,
  drainRounds,
  injectDataApiFaults,
  killAfter,
  report,
  scriptMix,
  seedScripted,
  spawnDrain,
  summaryTotals,
} from './harness.js';
import { expectedOutcome } from './scripts.js';

const stack = useStack();

const LEASE_MS = 6_000;
const SETTINGS = { leaseSeconds: LEASE_MS / 1_000 };
const MAX_SLEEP_MS = 12_000;
const TIMEOUT_MS = 20_000;

it("handlers longer than the lease in drains SIGKILLed mid-run, under Data API faults: nothing lost, and only the killed drain's messages run twice", async () => {
  const log = await createDispatchLog(stack.sql);
  const messages = await seedScripted(
    stack.db,
    scriptMix(240, [
      [['sleep'], 80, 5],
      [['throw', 'sleep'], 15, 5],
      [['permanent'], 5, 5],
    ]),
  );
  const env = { CHAOS_MAX_SLEEP_MS: String(MAX_SLEEP_MS), CHAOS_TIMEOUT_MS: String(TIMEOUT_MS), CHAOS_QUEUE_SETTINGS: JSON.stringify(SETTINGS) };
  const children = ['killed', 'kept.1', 'kept.2'].map((name) => spawnDrain(stack, `beats.${name}`, env));
  // Killed once it has started 30 handlers (most still sleeping, their leases kept by its beats until then).
  const killed = await killAfter(children[0]!, log, 30);
  // The faults start once the drain to kill is dead: a failed claim would end its run before it
  // started the handlers it is to be killed among. The survivors' beats and the later rounds run under them.
  injectDataApiFaults(stack, { refused: 0.02 });
  const exits = await Promise.all(children.map((child) => child.exited));
  expect(killed).toBe(true);
  expect(exits[0]!.signal).toBe('SIGKILL');
  for (const exit of exits.slice(1)) expect(exit.code, exit.output).toBe(0);

  const rounds = await drainRounds({
    stack,
    log,
    runs: 2,
    deadline: Date.now() + 150_000,
    queue: chaosQueue(SETTINGS),
    timeoutMs: TIMEOUT_MS,
    maxSleepMs: MAX_SLEEP_MS,
  });
  stack.server.faults.clear();
  const { counts, violations } = await checkInvariants(stack, messages, log);
  const survivors = exits.flatMap((exit) => (exit.summary === undefined ? [] : [exit.summary]));
  report('heartbeats, faults and SIGKILL mid-run', counts, {
    processes: children.length,
    rounds: rounds.rounds,
    ...summaryTotals([...survivors, ...rounds.summaries]),
  });
  expect(violations).toEqual([]);

  const dispatches = await log.all();
  const byMessage = new Map<string, typeof dispatches>();
  for (const d of dispatches) byMessage.set(d.messageId, [...(byMessage.get(d.messageId) ?? []), d]);
  const touchedByKilled = (id: string) => (byMessage.get(id) ?? []).some((d) => d.runner === children[0]!.runner);
  // Every message the killed drain never ran was dispatched no more often than its script needs:
  // no lease of a surviving drain ran out, however long its handler ran.
  // (Fewer is a message whose first claim was the killed drain's, not yet started: that claim counted an attempt.)
  const twice = messages.filter((m) => !touchedByKilled(m.id) && (byMessage.get(m.id)?.length ?? 0) > expectedOutcome(m.script, m.maxAttempts).dispatches);
  expect(twice.map((m) => m.id)).toEqual([]);
  // And the test did what it says: handlers ran past the lease, and the killed drain's messages came back.
  const pastLease = dispatches.filter((d) => d.endedMs !== undefined && d.startedMs !== undefined && d.endedMs - d.startedMs > LEASE_MS);
  expect(pastLease.length).toBeGreaterThan(10);
  expect(counts.leaseExpired).toBeGreaterThan(0);
});
