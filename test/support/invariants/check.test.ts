/**
 * The invariant checker on hand-made traces: each invariant caught, each legitimate exception
 * (a kill or an outage during a lease, a late commit, a full queue, a paused test process) let
 * through. No database: these run in milliseconds.
 */
import { describe, expect, it } from 'vitest';
import type { Step } from '../../chaos/scripts.js';
import {
  busiestWindow,
  capacityFull,
  checkTrace,
  longestGap,
  mostAtOnce,
  runOutcome,
  type Trace,
  type TraceDispatch,
  type TraceMessage,
  type ViolationKind,
} from './check.js';

/** A message committed at 0 by its own enqueue, due at once, `sleep` unless told. */
function message(n: number, over: Partial<TraceMessage> = {}): TraceMessage {
  return {
    n,
    steps: ['sleep'],
    maxAttempts: 10,
    producer: n,
    position: 0,
    kind: 'enqueue',
    enqueuedAtMs: 0,
    insertedAtMs: 5,
    dueAtMs: 0,
    committedAtMs: 5,
    settledAtMs: 5,
    rolledBack: false,
    ...over,
  };
}

const idOf = (n: number) => `id-${n}`;

function run(n: number, startedMs: number, endedMs: number | undefined, over: Partial<TraceDispatch> = {}): TraceDispatch {
  return { messageId: idOf(n), attempt: 1, runner: 'schedule1', startedMs, ...(endedMs === undefined ? {} : { endedMs }), ...over };
}

/** A trace whose rows are what each message's runs say (done unless told), with nothing going wrong. */
function trace(over: Partial<Trace> & { messages: TraceMessage[]; dispatches: TraceDispatch[] }): Trace {
  const rows =
    over.rows ??
    over.messages
      .filter((m) => m.committedAtMs !== undefined)
      .map((m) => {
        const runs = over.dispatches.filter((d) => d.messageId === idOf(m.n));
        const last = runs[runs.length - 1];
        const outcome = last === undefined ? 'waiting' : runOutcome(m, last.attempt);
        return {
          id: idOf(m.n),
          n: m.n,
          status: outcome === 'retry' ? 'retrying' : outcome,
          attempts: Math.max(0, ...runs.map((r) => r.attempt)),
          lastError:
            outcome === 'dead'
              ? m.steps.includes('permanent')
                ? 'PermanentError: scripted permanent failure on attempt 1'
                : 'Error: scripted failure on attempt 2'
              : null,
        };
      });
  return {
    originMs: 0,
    queue: { fifo: false },
    leaseMs: 4_000,
    handlerTimeoutMs: 1_000,
    retryBackoffMaxMs: 200,
    kills: [],
    outages: [],
    lostRepliesAtMs: [],
    refusedAtMs: [],
    delaysAtMs: [],
    drainTroubleAtMs: [],
    pauses: [],
    openTransactions: 0,
    ...over,
    rows,
  };
}

const kinds = (t: Trace): ViolationKind[] => checkTrace(t).map((v) => v.kind);

describe('checkTrace', () => {
  it('finds nothing wrong in a clean trace', () => {
    const t = trace({
      messages: [message(0), message(1, { steps: ['throw', 'sleep'] }), message(2, { steps: ['permanent'] })],
      dispatches: [run(0, 10, 20), run(1, 10, 12), run(1, 150, 160, { attempt: 2 }), run(2, 11, 12)],
    });
    expect(checkTrace(t)).toEqual([]);
  });

  it('a committed message without its row is lost; a rolled-back one stored or run is a violation', () => {
    const t = trace({
      messages: [message(0), message(1, { committedAtMs: undefined, rolledBack: true }), message(2, { committedAtMs: undefined })],
      dispatches: [run(1, 10, 20), run(9, 10, 20)],
      rows: [
        { id: idOf(1), n: 1, status: 'done', attempts: 1, lastError: null },
        // A failed producer's message may be stored or not: stored, it must run like any other.
      ],
    });
    expect(kinds(t).sort()).toEqual(['lost', 'ran-uncommitted', 'stored-after-rollback']);
  });

  it('a message left unfinished is stuck', () => {
    const t = trace({ messages: [message(0)], dispatches: [] });
    expect(kinds(t)).toEqual(['stuck']);
  });

  it('the final status must be what the script of the last run says, with its error', () => {
    const ranOk = trace({
      messages: [message(0, { steps: ['permanent'] })],
      dispatches: [run(0, 10, 20)],
      rows: [{ id: idOf(0), n: 0, status: 'done', attempts: 1, lastError: null }],
    });
    expect(kinds(ranOk)).toEqual(['wrong-outcome']);
    const wrongError = trace({
      messages: [message(0, { steps: ['permanent'] })],
      dispatches: [run(0, 10, 20)],
      rows: [{ id: idOf(0), n: 0, status: 'dead', attempts: 1, lastError: 'Error: scripted failure on attempt 1' }],
    });
    expect(kinds(wrongError)).toEqual(['wrong-outcome']);
  });

  it('a dead letter for expired leases needs a kill, an outage or a fault', () => {
    const expired = (over: Partial<Trace>) =>
      trace({
        messages: [message(0)],
        dispatches: [],
        rows: [{ id: idOf(0), n: 0, status: 'dead', attempts: 10, lastError: 'attempts exhausted (10): the lease of attempt 9 expired without an outcome' }],
        ...over,
      });
    expect(kinds(expired({}))).toEqual(['wrong-outcome']);
    expect(kinds(expired({ lostRepliesAtMs: [100] }))).toEqual([]);
  });

  it('a run after a final outcome is a second run, unless its drain was killed or an outage began during its lease', () => {
    const messages = [message(0)];
    const dispatches = [run(0, 100, 120, { runner: 'killed1' }), run(0, 4_200, 4_210, { attempt: 2, runner: 'schedule3' })];
    expect(kinds(trace({ messages, dispatches }))).toEqual(['ran-twice']);
    expect(kinds(trace({ messages, dispatches, kills: [{ runner: 'killed1', atMs: 130 }] }))).toEqual([]);
    expect(kinds(trace({ messages, dispatches, outages: [{ fromMs: 2_000, toMs: 3_000 }] }))).toEqual([]);
    // A kill after the lease ended excuses nothing.
    expect(kinds(trace({ messages, dispatches, kills: [{ runner: 'killed1', atMs: 4_150 }] }))).toEqual(['ran-twice']);
  });

  it('one attempt run twice is a violation unless the first run was interrupted', () => {
    const messages = [message(0, { steps: ['throw', 'sleep'] })];
    const twice = [run(0, 100, 110), run(0, 500, 510), run(0, 800, 810, { attempt: 2 })];
    expect(kinds(trace({ messages, dispatches: twice })).sort()).toEqual(['attempts-uncounted', 'claim-ran-twice']);
    expect(kinds(trace({ messages, dispatches: twice, kills: [{ runner: 'schedule1', atMs: 115 }] }))).toEqual([]);
  });

  it('nothing runs before it is due', () => {
    const t = trace({ messages: [message(0, { dueAtMs: 1_000 })], dispatches: [run(0, 900, 910)] });
    expect(kinds(t)).toEqual(['ran-early']);
  });

  describe('FIFO', () => {
    const fifo = { fifo: true };

    it('two runs of one group overlapping is a violation; a killed run ends at its kill', () => {
      const messages = [message(0, { groupKey: 'g' }), message(1, { groupKey: 'g', committedAtMs: 2_000, enqueuedAtMs: 1_990 })];
      // 0 was committed before 1 was enqueued: starting 1 before 0 ended is out of order as well.
      expect(kinds(trace({ queue: fifo, messages, dispatches: [run(0, 100, 2_500), run(1, 2_400, 2_410)] })).sort()).toEqual(['group-order', 'group-overlap']);
      const killed = [run(0, 100, undefined, { runner: 'killed1' }), run(1, 2_400, 2_410)];
      expect(kinds(trace({ queue: fifo, messages, dispatches: killed, kills: [{ runner: 'killed1', atMs: 2_300 }] }))).toEqual([]);
      expect(kinds(trace({ queue: fifo, messages, dispatches: killed, kills: [{ runner: 'killed1', atMs: 2_450 }] })).sort()).toEqual([
        'group-order',
        'group-overlap',
      ]);
      // Committed late, 0 is in no order with 1, but still may not run beside it.
      const late = [message(0, { groupKey: 'g', kind: 'transaction', committedAtMs: 2_500, settledAtMs: 2_500 }), messages[1]!];
      expect(kinds(trace({ queue: fifo, messages: late, dispatches: [run(1, 2_400, 2_600), run(0, 2_550, 2_560)] }))).toEqual(['group-overlap']);
    });

    it('a message committed before the next was enqueued runs first; one committed late may run after', () => {
      // 0 was committed at 5, 1 enqueued at 10: 1 may start only once 0 has ended.
      const inOrder = [message(0, { groupKey: 'g' }), message(1, { groupKey: 'g', enqueuedAtMs: 10, insertedAtMs: 15, committedAtMs: 15, settledAtMs: 15 })];
      expect(kinds(trace({ queue: fifo, messages: inOrder, dispatches: [run(1, 100, 110), run(0, 120, 130)] }))).toEqual(['group-order']);
      expect(kinds(trace({ queue: fifo, messages: inOrder, dispatches: [run(0, 100, 110), run(1, 120, 130)] }))).toEqual([]);
      // 0 enqueued first but committed after 1 was enqueued (an open transaction): either order.
      const late = [
        message(0, { groupKey: 'g', kind: 'transaction', committedAtMs: 3_000, settledAtMs: 3_000 }),
        message(1, { groupKey: 'g', enqueuedAtMs: 10, insertedAtMs: 15, committedAtMs: 15, settledAtMs: 15 }),
      ];
      expect(kinds(trace({ queue: fifo, messages: late, dispatches: [run(1, 100, 110), run(0, 3_010, 3_020)] }))).toEqual([]);
      // The same batch commits at once: its order is its positions.
      const batch = [message(0, { groupKey: 'g' }), message(1, { groupKey: 'g', producer: 0, position: 1 })];
      expect(kinds(trace({ queue: fifo, messages: batch, dispatches: [run(1, 100, 110), run(0, 120, 130)] }))).toEqual(['group-order']);
    });

    it('a message waiting for its group is not stalled; one whose group was idle is', () => {
      const messages = [message(0, { groupKey: 'g' }), message(1, { groupKey: 'g', producer: 0, position: 1 }), message(2, { groupKey: 'h' })];
      const waited = [run(0, 100, 2_900), run(1, 2_950, 2_960), run(2, 100, 110)];
      expect(kinds(trace({ queue: fifo, messages, dispatches: waited }))).toEqual([]);
      // h's message waits 3 s while nothing of its group runs: the head stall of an open transaction.
      const stalled = [run(0, 100, 110), run(1, 120, 130), run(2, 3_100, 3_110)];
      expect(kinds(trace({ queue: fifo, messages, dispatches: stalled }))).toEqual(['stalled']);
    });
  });

  describe('queue-wide limits', () => {
    it('more handlers at once than the concurrency is a violation; an end and a start at the same millisecond are not', () => {
      const messages = [message(0), message(1), message(2)];
      const queue = { fifo: false, concurrency: 2 };
      expect(kinds(trace({ queue, messages, dispatches: [run(0, 0, 100), run(1, 50, 150), run(2, 100, 200)] }))).toEqual([]);
      expect(kinds(trace({ queue, messages, dispatches: [run(0, 0, 100), run(1, 50, 150), run(2, 99, 200)] }))).toEqual(['concurrency']);
    });

    it('more starts in a second than 1.2 × the rate is a violation', () => {
      const messages = Array.from({ length: 13 }, (_, n) => message(n));
      const queue = { fifo: false, ratePerSecond: 10 };
      const starts = (count: number) => messages.slice(0, count).map((m, i) => run(m.n, i * 70, i * 70 + 5));
      expect(kinds(trace({ queue, messages: messages.slice(0, 12), dispatches: starts(12) }))).toEqual([]);
      expect(kinds(trace({ queue, messages, dispatches: starts(13) }))).toEqual(['rate']);
    });

    it('a message waiting while the concurrency was taken is not stalled', () => {
      const messages = [message(0), message(1)];
      const queue = { fifo: false, concurrency: 1 };
      expect(kinds(trace({ queue, messages, dispatches: [run(0, 10, 3_000), run(1, 3_050, 3_060)] }))).toEqual([]);
      expect(kinds(trace({ queue: { fifo: false }, messages, dispatches: [run(0, 10, 3_000), run(1, 3_050, 3_060)] }))).toEqual(['stalled']);
    });
  });

  describe('stalls', () => {
    const late = { messages: [message(0)], dispatches: [run(0, 3_000, 3_010)] };

    it('a ready message not started for more than 2 s is stalled', () => {
      expect(kinds(trace(late))).toEqual(['stalled']);
      expect(kinds(trace({ messages: [message(0)], dispatches: [run(0, 1_900, 1_910)] }))).toEqual([]);
    });

    it('unless a kill, an outage or a fault could have left it leased, or the test process was paused', () => {
      expect(kinds(trace({ ...late, lostRepliesAtMs: [500] }))).toEqual([]);
      // A refused call costs the client's retries, not a lease, where no permit can be left taken.
      expect(kinds(trace({ ...late, refusedAtMs: [500] }))).toEqual([]);
      expect(kinds(trace({ messages: [message(0)], dispatches: [run(0, 5_000, 5_010)], refusedAtMs: [500] }))).toEqual(['stalled']);
      // A drain that reports messages or permits left taken until their lease ends.
      expect(kinds(trace({ messages: [message(0)], dispatches: [run(0, 5_000, 5_010)], drainTroubleAtMs: [500] }))).toEqual([]);
      expect(kinds(trace({ ...late, kills: [{ runner: 'killed1', atMs: 200 }] }))).toEqual([]);
      expect(kinds(trace({ ...late, outages: [{ fromMs: 100, toMs: 900 }] }))).toEqual([]);
      expect(kinds(trace({ ...late, pauses: [{ fromMs: 1_000, toMs: 2_000 }] }))).toEqual([]);
    });

    it('counts from the later of its due time and its commit, and from its retry backoff', () => {
      expect(kinds(trace({ messages: [message(0, { dueAtMs: 1_500 })], dispatches: [run(0, 3_000, 3_010)] }))).toEqual([]);
      expect(
        kinds(trace({ messages: [message(0, { kind: 'transaction', committedAtMs: 2_000, settledAtMs: 2_000 })], dispatches: [run(0, 3_000, 3_010)] })),
      ).toEqual([]);
      const retried = { messages: [message(0, { steps: ['throw', 'sleep'] as Step[] })], dispatches: [run(0, 10, 20), run(0, 2_100, 2_110, { attempt: 2 })] };
      expect(kinds(trace(retried))).toEqual([]);
      expect(kinds(trace({ ...retried, dispatches: [run(0, 10, 20), run(0, 2_300, 2_310, { attempt: 2 })] }))).toEqual(['stalled']);
    });
  });

  it('an enqueue that takes more than 2 s to answer is stalled, unless a fault fired during it', () => {
    const slow = [message(0, { enqueuedAtMs: 0, insertedAtMs: 2_600, committedAtMs: 2_600, settledAtMs: 2_600, dueAtMs: 0 })];
    expect(kinds(trace({ messages: slow, dispatches: [run(0, 2_700, 2_710)] }))).toEqual(['enqueue-stalled']);
    expect(kinds(trace({ messages: slow, dispatches: [run(0, 2_700, 2_710)], delaysAtMs: [100] }))).toEqual([]);
  });

  it('says when, from the scenario’s start', () => {
    const [violation] = checkTrace(trace({ originMs: 1_000, messages: [message(0, { dueAtMs: 1_000 })], dispatches: [run(0, 4_500, 4_510)] }));
    expect(violation!.detail).toContain('was ready at +0.000 s and started at +3.500 s (schedule1)');
  });

  it('a transaction left open is a violation', () => {
    expect(kinds(trace({ messages: [], dispatches: [], openTransactions: 1 }))).toEqual(['open-transactions']);
  });

  it('a dispatch without an end in a process that was not killed is a fault of the harness', () => {
    expect(
      kinds(
        trace({ messages: [message(0)], dispatches: [run(0, 10, undefined)], rows: [{ id: idOf(0), n: 0, status: 'done', attempts: 1, lastError: null }] }),
      ),
    ).toEqual(['harness']);
  });
});

describe('window helpers', () => {
  it('mostAtOnce counts an end before a start at the same millisecond', () => {
    expect(
      mostAtOnce([
        { fromMs: 0, toMs: 10 },
        { fromMs: 10, toMs: 20 },
      ]).count,
    ).toBe(1);
    expect(
      mostAtOnce([
        { fromMs: 0, toMs: 10 },
        { fromMs: 5, toMs: 20 },
        { fromMs: 6, toMs: 7 },
      ]),
    ).toEqual({ count: 3, atMs: 6 });
  });

  it('busiestWindow slides over every start, half-open', () => {
    expect(busiestWindow([0, 500, 999, 1_000, 1_500], 1_000)).toEqual({ count: 3, fromMs: 0 });
    expect(busiestWindow([], 1_000).count).toBe(0);
  });

  it('longestGap finds the longest stretch outside the busy intervals', () => {
    expect(longestGap(0, 1_000, [])).toBe(1_000);
    expect(
      longestGap(0, 1_000, [
        { fromMs: -100, toMs: 200 },
        { fromMs: 300, toMs: 900 },
      ]),
    ).toBe(100);
    expect(longestGap(0, 1_000, [{ fromMs: 100, toMs: 200 }])).toBe(800);
  });

  it('capacityFull: the rate is full from the slots-th start within a window until the first one’s window ends', () => {
    const dispatches = [0, 100, 200].map((at, i) => run(i, at, at + 10));
    const full = capacityFull({ queue: { fifo: false, ratePerSecond: 3 }, dispatches, kills: [], leaseMs: 4_000 }, (d) => d.endedMs!);
    // 3 permits, each reusable 1,050 ms after it was taken, plus the 300 ms slack.
    expect(full).toEqual([{ fromMs: 200, toMs: 1_350 }]);
  });
});
