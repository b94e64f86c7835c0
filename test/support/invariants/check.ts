/**
 * The invariants of the randomized invariant test, checked on a trace: what each producer did and
 * when, the final table, every handler's own start and end times, and when drains were killed, the
 * Data API failed and the machine paused. Pure: it answers the violations as data, so it is tested
 * on hand-made traces (check.test.ts) and the runner (test/chaos/invariantRunner.ts) only records.
 *
 * - nothing lost: every committed message has its row; nothing rolled back is stored or run;
 * - nothing stuck: every row ends done or dead, as the script of its last run says; no ready
 *   message waits longer than TOLERANCES.stallMs while the queue had room to start it, and no
 *   enqueue takes longer than that to answer (both with allowances for faults, kills and pauses);
 * - nothing run twice outside an outage: a message runs again after a run whose outcome was final
 *   only when that run's drain was killed or an outage began during its lease (at-least-once), and
 *   one attempt runs once (unless its run was cut off the same way); nothing runs before it is due;
 * - FIFO: at most one run in flight per group, and a message runs only after every message of its
 *   group that was committed before it was enqueued has ended (messages committed late, after a
 *   later one of their group was enqueued, may run in either order, never beside it);
 * - queue-wide limits held in every window: never more handlers at once than the concurrency, and
 *   no more starts in any 1 s or 5 s window than the rate allows, with the tolerances of the
 *   existing chaos test (TOLERANCES).
 */
import type { Step } from '../../chaos/scripts.js';
import { stepOf } from '../../chaos/scripts.js';
import { ratePermits } from '../../../lib/sql/permits.js';
import type { ScenarioQueue } from './scenario.js';

export interface TraceMessage {
  /** Its number in the scenario (its payload's `n`). */
  n: number;
  groupKey?: string;
  steps: Step[];
  maxAttempts: number;
  /** The producer that enqueued it, and its place in that producer's batch (a batch commits at once). */
  producer: number;
  position: number;
  /** Enqueued before the drains started, alone in its statement, or in a transaction held open. */
  kind: 'seed' | 'enqueue' | 'transaction';
  /** When its producer called enqueue: its id is made after this. */
  enqueuedAtMs: number;
  /** When that call (the insert, in a transaction not yet committed) answered or failed. */
  insertedAtMs: number;
  /** Not run before this: the enqueue time plus its delay. */
  dueAtMs: number;
  /** When its commit (or its autocommit enqueue) answered; undefined when it did not (rolled back, or failed). */
  committedAtMs?: number;
  /** When its producer's statement or transaction ended, however it ended. */
  settledAtMs: number;
  /** Rolled back on purpose: must never be stored nor run. */
  rolledBack: boolean;
}

export interface TraceRow {
  id: string;
  /** The payload's `n`: which scenario message this row is. */
  n: number;
  status: string;
  attempts: number;
  lastError: string | null;
}

export interface TraceDispatch {
  messageId: string;
  attempt: number;
  runner: string;
  startedMs: number;
  /** Undefined when its process was killed before the handler ended. */
  endedMs?: number;
}

export interface Interval {
  fromMs: number;
  toMs: number;
}

export interface Trace {
  /** When the scenario started: times in violations are given from it (`+1.234 s`). */
  originMs: number;
  queue: ScenarioQueue;
  leaseMs: number;
  /** A handler's timeout: the longest a run can last. */
  handlerTimeoutMs: number;
  /** The longest a retry waits before it is due again (the queue's backoff cap). */
  retryBackoffMaxMs: number;
  messages: TraceMessage[];
  rows: TraceRow[];
  dispatches: TraceDispatch[];
  kills: { runner: string; atMs: number }[];
  /** When the scenario's outages were on (most statements failing). */
  outages: Interval[];
  /** When injected faults lost a call's reply after it ran (a claim's lease may be left with no one to run it). */
  lostRepliesAtMs: number[];
  /** When injected faults refused a call before it ran (the client retries it, or the call fails). */
  refusedAtMs: number[];
  /** When injected 300 ms delays fired. */
  delaysAtMs: number[];
  /**
   * When drain runs reported trouble (their DrainLog's warnings and errors: a claim failed, claimed
   * messages not read back, permits not given back, outcomes not written): messages or permits
   * then stay taken until their lease ends.
   */
  drainTroubleAtMs: number[];
  /** When the test's own process did not run (event-loop stalls: the machine was busy elsewhere). */
  pauses: Interval[];
  /** Data API transactions still open at the end. */
  openTransactions: number;
}

export type ViolationKind =
  | 'lost'
  | 'stored-after-rollback'
  | 'ran-uncommitted'
  | 'unknown-row'
  | 'stuck'
  | 'wrong-outcome'
  | 'ran-early'
  | 'ran-twice'
  | 'claim-ran-twice'
  | 'attempts-uncounted'
  | 'group-overlap'
  | 'group-order'
  | 'concurrency'
  | 'rate'
  | 'stalled'
  | 'enqueue-stalled'
  | 'open-transactions'
  | 'harness';

export interface Violation {
  kind: ViolationKind;
  /** The scenario message concerned, if one. */
  n?: number;
  detail: string;
}

/**
 * Tolerances, the existing chaos suite's where it has one (test/chaos/limits.test.ts: at 40/s,
 * at most 48 starts in any second and 5 × 42 in any 5 s).
 */
export const TOLERANCES: Tolerances = {
  /** Starts in any 1 s window: at most 1.2 × the rate. */
  rateSecondFactor: 1.2,
  /** Starts in any 5 s window: at most 5 × 1.05 × the rate. */
  rateFiveSecondsFactor: 1.05,
  /**
   * The longest a ready message may wait while the queue had room for it. Pickup is a wake, a
   * lingering poll (every 50 to 500 ms) or the emulated schedule (every second); the issue's
   * target for a FIFO queue under an open transaction is 1 s.
   */
  stallMs: 2_000,
  /**
   * Added to a handler's end before its run permit counts as free (permits go back in two writes
   * per claim, as its handlers end), and to a rate permit's window (a message starts 150 ms after
   * its permit was taken): room the queue may legitimately leave idle.
   */
  permitSlackMs: 300,
  /** A wait's allowance grows by this when a call was refused or delayed during it (the Data API client's retries). */
  faultRetryAllowanceMs: 1_500,
};

export interface Tolerances {
  rateSecondFactor: number;
  rateFiveSecondsFactor: number;
  stallMs: number;
  permitSlackMs: number;
  faultRetryAllowanceMs: number;
}

type Outcome = 'done' | 'dead' | 'retry';

/** What the run of `attempt` leads to, by the message's script. */
export function runOutcome(message: Pick<TraceMessage, 'steps' | 'maxAttempts'>, attempt: number): Outcome {
  const step = stepOf({ steps: message.steps }, attempt);
  if (step === 'ok' || step === 'sleep' || step === 'stall') return 'done';
  if (step === 'permanent') return 'dead';
  return attempt >= message.maxAttempts ? 'dead' : 'retry';
}

export function checkTrace(trace: Trace, tolerances: Tolerances = TOLERANCES): Violation[] {
  const violations: Violation[] = [];
  const violate = (kind: ViolationKind, detail: string, n?: number) => violations.push({ kind, detail, ...(n === undefined ? {} : { n }) });
  const at = (ms: number) => `+${((ms - trace.originMs) / 1_000).toFixed(3)} s`;
  const describeRun = (d: TraceDispatch) => `${d.runner} ${at(d.startedMs)}–${d.endedMs === undefined ? '(no end)' : at(d.endedMs)}`;

  const messageByN = new Map(trace.messages.map((m) => [m.n, m]));
  const rowByN = new Map<number, TraceRow>();
  const nById = new Map<string, number>();
  for (const row of trace.rows) {
    if (!messageByN.has(row.n)) {
      violate('unknown-row', `row ${row.id} (n=${row.n}) is no message of the scenario`);
      continue;
    }
    if (rowByN.has(row.n)) violate('unknown-row', `message ${row.n} stored twice (${rowByN.get(row.n)!.id}, ${row.id})`, row.n);
    rowByN.set(row.n, row);
    nById.set(row.id, row.n);
  }

  const killAt = new Map(trace.kills.map((k) => [k.runner, k.atMs]));
  const pauses = merge(trace.pauses);
  const runsOf = new Map<number, TraceDispatch[]>();
  for (const d of trace.dispatches) {
    const n = nById.get(d.messageId);
    if (n === undefined) {
      violate('ran-uncommitted', `${d.runner} ran ${d.messageId} (attempt ${d.attempt}), which has no row: never committed`);
      continue;
    }
    if (d.endedMs === undefined && !killAt.has(d.runner))
      violate('harness', `${d.runner} recorded no end for message ${n}'s attempt ${d.attempt} and was not killed`, n);
    runsOf.set(n, [...(runsOf.get(n) ?? []), d]);
  }
  for (const runs of runsOf.values()) runs.sort((a, b) => a.startedMs - b.startedMs || a.attempt - b.attempt);

  /** When a run stopped: its handler's end, else its process's kill, else (recorded as a harness fault) its timeout. */
  const endOf = (d: TraceDispatch): number => d.endedMs ?? killAt.get(d.runner) ?? d.startedMs + trace.handlerTimeoutMs;
  const overlaps = (intervals: readonly Interval[], fromMs: number, toMs: number) => intervals.some((i) => i.fromMs <= toMs && i.toMs >= fromMs);
  const anyAt = (times: readonly number[], fromMs: number, toMs: number) => times.some((t) => t >= fromMs && t <= toMs);
  /** The run's lease may have ended without its outcome: its drain was killed, or an outage began, during it. */
  const interrupted = (d: TraceDispatch): boolean => {
    const leaseEndMs = d.startedMs + trace.leaseMs;
    const killed = killAt.get(d.runner);
    return (killed !== undefined && killed >= d.startedMs && killed <= leaseEndMs) || overlaps(trace.outages, d.startedMs, leaseEndMs);
  };
  const troubled = trace.kills.length > 0 || trace.outages.length > 0 || trace.lostRepliesAtMs.length > 0 || trace.refusedAtMs.length > 0;

  // Lost, stored after a rollback, stuck, outcome, run twice, run early.
  for (const message of trace.messages) {
    const row = rowByN.get(message.n);
    const runs = runsOf.get(message.n) ?? [];
    if (row === undefined) {
      if (message.committedAtMs !== undefined) violate('lost', `message ${message.n} was committed at ${at(message.committedAtMs)} and has no row`, message.n);
      continue;
    }
    if (message.rolledBack) violate('stored-after-rollback', `message ${message.n} was rolled back and is stored as ${row.id} (${row.status})`, message.n);
    if (row.status !== 'done' && row.status !== 'dead') {
      violate('stuck', `message ${message.n} ended the scenario ${row.status} after ${row.attempts} attempts and ${runs.length} runs`, message.n);
    } else {
      checkOutcome(message, row, runs);
    }

    const attempts = new Map<number, TraceDispatch>();
    for (const [i, d] of runs.entries()) {
      // A run whose outcome was never written may leave its attempt uncounted (a FIFO follower's
      // attempt is counted by its outcome's write): its number may come again after an interruption.
      const same = attempts.get(d.attempt);
      if (same !== undefined && !interrupted(same))
        violate('claim-ran-twice', `message ${message.n}'s attempt ${d.attempt} ran twice: ${describeRun(same)} and ${describeRun(d)}`, message.n);
      attempts.set(d.attempt, d);
      if (d.startedMs < message.dueAtMs) violate('ran-early', `message ${message.n} started ${message.dueAtMs - d.startedMs} ms before it was due`, message.n);
      const before = runs[i - 1];
      if (before !== undefined && runOutcome(message, before.attempt) !== 'retry' && !interrupted(before)) {
        violate(
          'ran-twice',
          `message ${message.n} ran again (attempt ${d.attempt}, ${d.runner}) after attempt ${before.attempt} (${before.runner}) ended ${runOutcome(message, before.attempt)}, with no kill or outage during its lease`,
          message.n,
        );
      }
    }
    const counted = runs.filter((d) => !interrupted(d)).length;
    if (counted > row.attempts)
      violate('attempts-uncounted', `message ${message.n} ran ${counted} times uninterrupted and counts ${row.attempts} attempts`, message.n);
  }

  function checkOutcome(message: TraceMessage, row: TraceRow, runs: readonly TraceDispatch[]): void {
    const last = runs[runs.length - 1];
    const expected = last === undefined ? undefined : runOutcome(message, last.attempt);
    const expired = row.status === 'dead' && /expired without an outcome/.test(row.lastError ?? '');
    if (expired) {
      if (!troubled)
        violate('wrong-outcome', `message ${message.n} was dead-lettered for leases that expired, with no kill, outage or fault: ${row.lastError}`, message.n);
      return;
    }
    if (expected !== row.status) {
      const said =
        last === undefined ? 'it never ran' : `its last run (attempt ${last.attempt}, step ${stepOf({ steps: message.steps }, last.attempt)}) says ${expected}`;
      violate('wrong-outcome', `message ${message.n} ended ${row.status} (${row.lastError ?? 'no error'}); ${said}`, message.n);
    } else if (row.status === 'dead') {
      const wanted = stepOf({ steps: message.steps }, last!.attempt) === 'permanent' ? /PermanentError: scripted permanent failure/ : /scripted failure/;
      if (!wanted.test(row.lastError ?? '')) violate('wrong-outcome', `message ${message.n}'s dead letter says "${row.lastError}", not ${wanted}`, message.n);
    }
  }

  // FIFO: one in flight per group, and order among messages committed before the next was enqueued.
  if (trace.queue.fifo) {
    const groups = new Map<string, TraceMessage[]>();
    for (const message of trace.messages) if (message.groupKey !== undefined) groups.set(message.groupKey, [...(groups.get(message.groupKey) ?? []), message]);
    for (const [group, members] of groups) {
      const runs = members.flatMap((m) => (runsOf.get(m.n) ?? []).map((d) => ({ d, n: m.n }))).sort((a, b) => a.d.startedMs - b.d.startedMs);
      let latest: { d: TraceDispatch; n: number } | undefined;
      for (const run of runs) {
        if (latest !== undefined && run.d.startedMs < endOf(latest.d)) {
          violate(
            'group-overlap',
            `group ${group}: message ${run.n} (attempt ${run.d.attempt}, ${run.d.runner}) started ${endOf(latest.d) - run.d.startedMs} ms before message ${latest.n} (attempt ${latest.d.attempt}, ${latest.d.runner}) ended`,
            run.n,
          );
        }
        if (latest === undefined || endOf(run.d) > endOf(latest.d)) latest = run;
      }
      for (const a of members) {
        const aRuns = runsOf.get(a.n) ?? [];
        if (aRuns.length === 0) continue;
        const aEnd = Math.max(...aRuns.map(endOf));
        for (const b of members) {
          if (a === b) continue;
          const precedes = a.producer === b.producer ? a.position < b.position : a.committedAtMs !== undefined && a.committedAtMs <= b.enqueuedAtMs;
          const bFirst = runsOf.get(b.n)?.[0];
          if (precedes && bFirst !== undefined && bFirst.startedMs < aEnd) {
            violate(
              'group-order',
              `group ${group}: message ${b.n} started ${aEnd - bFirst.startedMs} ms before message ${a.n}, committed before it was enqueued, had ended`,
              b.n,
            );
          }
        }
      }
    }
  }

  // Queue-wide limits, from the handlers' own times.
  const { concurrency, ratePerSecond } = trace.queue;
  if (concurrency !== undefined) {
    const most = mostAtOnce(trace.dispatches.map((d) => ({ fromMs: d.startedMs, toMs: endOf(d) })));
    if (most.count > concurrency) violate('concurrency', `${most.count} handlers ran at once at ${at(most.atMs)} (concurrency ${concurrency})`);
  }
  if (ratePerSecond !== undefined) {
    const starts = trace.dispatches.map((d) => d.startedMs);
    for (const [windowMs, allowed] of [
      [1_000, Math.floor(tolerances.rateSecondFactor * ratePerSecond)],
      [5_000, Math.floor(5 * tolerances.rateFiveSecondsFactor * ratePerSecond)],
    ] as const) {
      const busiest = busiestWindow(starts, windowMs);
      if (busiest.count > allowed)
        violate('rate', `${busiest.count} starts in the ${windowMs / 1_000} s from ${at(busiest.fromMs)} (rate ${ratePerSecond}/s: at most ${allowed})`);
    }
  }

  // Stalls: a ready message waiting while the queue had room to start it.
  const full = capacityFull(trace, endOf, tolerances.permitSlackMs);
  for (const message of trace.messages) {
    const runs = runsOf.get(message.n) ?? [];
    const group = message.groupKey === undefined ? [] : trace.messages.filter((m) => m.groupKey === message.groupKey && m !== message);
    for (const [i, d] of runs.entries()) {
      const before = runs[i - 1];
      // After a run whose outcome was final, a rerun waits out a lease: nothing to hold against it.
      if (before !== undefined && runOutcome(message, before.attempt) !== 'retry') continue;
      let readyMs = before === undefined ? Math.max(message.dueAtMs, message.committedAtMs ?? message.settledAtMs) : endOf(before) + trace.retryBackoffMaxMs;
      for (const other of group) {
        // Its group was busy with a message that started first, or waiting on a producer's transaction that began first.
        for (const run of runsOf.get(other.n) ?? []) if (run.startedMs < d.startedMs) readyMs = Math.max(readyMs, endOf(run));
        if (other.enqueuedAtMs <= message.enqueuedAtMs && other.settledAtMs <= d.startedMs) readyMs = Math.max(readyMs, other.settledAtMs);
      }
      if (d.startedMs - readyMs <= tolerances.stallMs) continue;
      const idleMs = longestGap(readyMs, d.startedMs, full);
      // Work a killed drain held, a claim whose reply was lost, or messages and permits a drain
      // reported it could not give back come back when their lease ends: up to a lease later.
      const recoveryFromMs = readyMs - trace.leaseMs - 1_000;
      const recovering =
        trace.kills.some((k) => k.atMs >= recoveryFromMs && k.atMs <= d.startedMs) ||
        overlaps(trace.outages, recoveryFromMs, d.startedMs) ||
        anyAt(trace.lostRepliesAtMs, recoveryFromMs, d.startedMs) ||
        anyAt(trace.drainTroubleAtMs, recoveryFromMs, d.startedMs);
      const retried = anyAt([...trace.refusedAtMs, ...trace.delaysAtMs], readyMs - 1_000, d.startedMs);
      const allowanceMs =
        tolerances.stallMs +
        (recovering ? trace.leaseMs + 1_000 + overlapMs(trace.outages, readyMs, d.startedMs) : 0) +
        (retried ? tolerances.faultRetryAllowanceMs : 0) +
        overlapMs(pauses, readyMs, d.startedMs);
      if (idleMs > allowanceMs) {
        violate(
          'stalled',
          `message ${message.n}${message.groupKey === undefined ? '' : ` (group ${message.groupKey})`} attempt ${d.attempt} was ready at ${at(readyMs)} and started at ${at(d.startedMs)} (${d.runner}): ${idleMs} ms with room to start it (allowed ${allowanceMs})`,
          message.n,
        );
      }
    }
  }

  // Enqueues: an insert waits on nothing but the database (another producer's open transaction included).
  for (const message of trace.messages) {
    if (message.position !== 0) continue;
    const tookMs = message.insertedAtMs - message.enqueuedAtMs;
    const troubledThen =
      overlaps(trace.outages, message.enqueuedAtMs, message.insertedAtMs) ||
      anyAt([...trace.lostRepliesAtMs, ...trace.refusedAtMs, ...trace.delaysAtMs], message.enqueuedAtMs, message.insertedAtMs);
    const allowanceMs =
      tolerances.stallMs + (troubledThen ? tolerances.faultRetryAllowanceMs : 0) + overlapMs(pauses, message.enqueuedAtMs, message.insertedAtMs);
    if (tookMs > allowanceMs)
      violate('enqueue-stalled', `producer ${message.producer}'s enqueue (${message.kind}) took ${tookMs} ms to answer (allowed ${allowanceMs})`, message.n);
  }

  if (trace.openTransactions > 0) violate('open-transactions', `${trace.openTransactions} Data API transactions left open`);
  return violations;
}

/** The most intervals open at once (an end at the same millisecond as a start comes first). */
export function mostAtOnce(intervals: readonly Interval[]): { count: number; atMs: number } {
  const events = intervals.flatMap((i) => [
    { at: i.fromMs, delta: 1 },
    { at: i.toMs, delta: -1 },
  ]);
  events.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let open = 0;
  let most = { count: 0, atMs: 0 };
  for (const event of events) {
    open += event.delta;
    if (open > most.count) most = { count: open, atMs: event.at };
  }
  return most;
}

/** The most starts in any half-open window of `windowMs`, and where it begins. */
export function busiestWindow(startsMs: readonly number[], windowMs: number): { count: number; fromMs: number } {
  const sorted = [...startsMs].sort((a, b) => a - b);
  let busiest = { count: 0, fromMs: 0 };
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMs) first++;
    if (last - first + 1 > busiest.count) busiest = { count: last - first + 1, fromMs: sorted[first]! };
  }
  return busiest;
}

/**
 * When the queue-wide limits left no room to start another message, as sorted, merged intervals:
 * `concurrency` handlers running (a killed drain's permit held to its lease's end), or the rate's
 * permits all used within their window; each with TOLERANCES.permitSlackMs more.
 */
export function capacityFull(
  trace: Pick<Trace, 'queue' | 'dispatches' | 'kills' | 'leaseMs'>,
  endOf: (d: TraceDispatch) => number,
  permitSlackMs = TOLERANCES.permitSlackMs,
): Interval[] {
  const full: Interval[] = [];
  const { concurrency, ratePerSecond } = trace.queue;
  const killed = new Set(trace.kills.map((k) => k.runner));
  if (concurrency !== undefined) {
    const held = trace.dispatches.map((d) => ({
      fromMs: d.startedMs,
      toMs: (d.endedMs === undefined && killed.has(d.runner) ? d.startedMs + trace.leaseMs : endOf(d)) + permitSlackMs,
    }));
    const events = held.flatMap((i) => [
      { at: i.fromMs, delta: 1 },
      { at: i.toMs, delta: -1 },
    ]);
    events.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let open = 0;
    let since: number | undefined;
    for (const event of events) {
      open += event.delta;
      if (open >= concurrency && since === undefined) since = event.at;
      if (open < concurrency && since !== undefined) {
        full.push({ fromMs: since, toMs: event.at });
        since = undefined;
      }
    }
  }
  if (ratePerSecond !== undefined) {
    const { slots, windowMs } = ratePermits(ratePerSecond);
    const starts = trace.dispatches.map((d) => d.startedMs).sort((a, b) => a - b);
    for (let last = slots - 1; last < starts.length; last++) {
      const toMs = starts[last - slots + 1]! + windowMs + permitSlackMs;
      if (starts[last]! < toMs) full.push({ fromMs: starts[last]!, toMs });
    }
  }
  return merge(full);
}

/** Sorted, with overlapping intervals joined. */
export function merge(intervals: readonly Interval[]): Interval[] {
  const sorted = [...intervals].sort((a, b) => a.fromMs - b.fromMs);
  const merged: Interval[] = [];
  for (const interval of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && interval.fromMs <= last.toMs) last.toMs = Math.max(last.toMs, interval.toMs);
    else merged.push({ ...interval });
  }
  return merged;
}

/** The longest stretch of [fromMs, toMs] outside the sorted, merged `busy` intervals. */
export function longestGap(fromMs: number, toMs: number, busy: readonly Interval[]): number {
  let longest = 0;
  let at = fromMs;
  for (const interval of busy) {
    if (interval.toMs <= at) continue;
    if (interval.fromMs >= toMs) break;
    longest = Math.max(longest, interval.fromMs - at);
    at = Math.max(at, interval.toMs);
  }
  return Math.max(longest, toMs - at);
}

/** How much of [fromMs, toMs] the intervals cover (disjoint intervals: merge them first). */
function overlapMs(intervals: readonly Interval[], fromMs: number, toMs: number): number {
  return intervals.reduce((sum, i) => sum + Math.max(0, Math.min(i.toMs, toMs) - Math.max(i.fromMs, fromMs)), 0);
}

/** Violations one to a line, at most `limit` of them. */
export function formatViolations(violations: readonly Violation[], limit = 30): string {
  const lines = violations.slice(0, limit).map((v) => `  ${v.kind}: ${v.detail}`);
  if (violations.length > limit) lines.push(`  … and ${violations.length - limit} more`);
  return lines.join('\n');
}
