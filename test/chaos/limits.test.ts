/**
 * Queue-wide limits held by drain runs in separate processes at once (as overlapping Lambda
 * invocations): what the downstream sees, from the handlers' own start and end times.
 */
import { expect, it } from 'vitest';
import { useStack } from '../support/stack.js';
import { busiestWindow } from '../support/invariants/check.js';
import { checkInvariants, createDispatchLog, report, seedScripted, spawnDrain, summaryTotals, type DispatchLog } from './harness.js';
import type { DispatchRecord } from './scripts.js';

const stack = useStack();

/** The most handlers running at once, from their start and end times. */
function mostAtOnce(dispatches: readonly DispatchRecord[]): number {
  const events = dispatches.flatMap((d) => [
    { at: d.startedMs!, delta: 1 },
    { at: d.endedMs ?? d.startedMs!, delta: -1 },
  ]);
  // At the same millisecond, an end comes before a start: a permit freed is then taken.
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let running = 0;
  let most = 0;
  for (const event of events) {
    running += event.delta;
    most = Math.max(most, running);
  }
  return most;
}

async function drainWith(options: { messages: number; processes: number; settings: object; sleepMs: number; log: DispatchLog }) {
  // Each test starts from an empty queue (the stack's database is the file's).
  await stack.sql.query('DELETE FROM queue_messages');
  await stack.sql.query('DELETE FROM queue_permits');
  const seeded = await seedScripted(
    stack.db,
    Array.from({ length: options.messages }, () => ({ script: { steps: ['sleep' as const] }, maxAttempts: 3 })),
  );
  const env = { CHAOS_QUEUE_SETTINGS: JSON.stringify(options.settings), CHAOS_MAX_SLEEP_MS: String(options.sleepMs) };
  const children = Array.from({ length: options.processes }, (_, i) => spawnDrain(stack, `limited.${i}`, env));
  const exits = await Promise.all(children.map((child) => child.exited));
  for (const exit of exits) expect(exit.code, exit.output).toBe(0);
  const { counts, violations } = await checkInvariants(stack, seeded, options.log);
  const dispatches = await options.log.all();
  return { counts, violations, dispatches, summaries: exits.map((exit) => exit.summary!) };
}

it('4 drain processes on a queue limited to 40 messages/s: at most 48 in any second, 42/s over any 5 s, each message once', async () => {
  const log = await createDispatchLog(stack.sql);
  const { counts, violations, dispatches, summaries } = await drainWith({
    messages: 400,
    processes: 4,
    settings: { ratePerSecond: 40, concurrency: 8 },
    sleepMs: 30,
    log,
  });
  const starts = dispatches.map((d) => d.startedMs!);
  const perSecond = busiestWindow(starts, 1_000).count;
  const perFiveSeconds = busiestWindow(starts, 5_000).count;
  const atOnce = mostAtOnce(dispatches);
  const spanMs = Math.max(...starts) - Math.min(...starts);
  report('4 drains, 40/s and 8 at once queue-wide', counts, {
    busiestSecond: perSecond,
    busiestFiveSeconds: perFiveSeconds,
    mostAtOnce: atOnce,
    spanMs,
    ...summaryTotals(summaries),
  });
  expect(violations).toEqual([]);
  expect(counts.dispatches).toBe(400);
  expect(perSecond).toBeLessThanOrEqual(48);
  expect(perFiveSeconds).toBeLessThanOrEqual(5 * 42);
  expect(atOnce).toBeLessThanOrEqual(8);
  // Held to the rate, not starved far below it: 400 messages at 40/s take about 10 s.
  expect(spanMs).toBeLessThan(15_000);
});

it('4 drain processes on a queue limited to 3 handlers at once never run a fourth', async () => {
  await stack.sql.query('DROP TABLE chaos_dispatches');
  const log = await createDispatchLog(stack.sql);
  const { counts, violations, dispatches, summaries } = await drainWith({ messages: 150, processes: 4, settings: { concurrency: 3 }, sleepMs: 40, log });
  const atOnce = mostAtOnce(dispatches);
  report('4 drains, 3 at once queue-wide', counts, { mostAtOnce: atOnce, ...summaryTotals(summaries) });
  expect(violations).toEqual([]);
  expect(counts.dispatches).toBe(150);
  expect(atOnce).toBeLessThanOrEqual(3);
  expect(atOnce).toBe(3);
});
