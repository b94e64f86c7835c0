/**
 * Wake on enqueue (lib/wake.ts) and the lingering drain: pickup latency at a trickle, and what
 * wake coordination costs under a sustained stream. A wake "invokes" a drain run in this process,
 * as a Lambda Event invoke would start one in AWS; each run gets its own Db, as separate
 * invocations would.
 */
import type mysql from 'mysql2/promise';
import type { App } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import type { Db } from '../../lib/db/types.js';
import { drain, type DrainSummary } from '../../lib/drain/drain.js';
import { enqueue } from '../../lib/enqueue.js';
import { Waker, type WakeResult } from '../../lib/wake.js';
import { BENCH_QUEUE, benchApp } from '../lib/benchApp.js';
import { BENCH_TYPE, benchPayload } from '../lib/seed.js';
import { figure, percentile, type Figure } from '../lib/stats.js';

/** The drain handler's default linger (handlers/drain.ts). */
const LINGER_MS = 2_000;

export interface PickupResult {
  messages: number;
  /** Enqueue answered → handler started, per message, in ms. */
  latency: Figure;
  p99Ms: number;
  invokes: number;
  /** Data API calls per message: the drain runs' (claims, reads, settles, polls while lingering). */
  drainCallsPerMessage: number;
  /** The enqueues' own (the insert, the wake checks). */
  enqueueCallsPerMessage: number;
  /** Seconds the drain runs lasted, per message (the drain Lambda's billed time). */
  drainSecondsPerMessage: number;
}

export interface WakeCostResult {
  messages: number;
  seconds: number;
  /** Data API calls the wakes made (checks and the one-time queue_state rows), per message. */
  wakeCallsPerMessage: number;
  /** Drain runs started per second over the stream. */
  invokesPerSecond: number;
  results: Partial<Record<WakeResult, number>>;
}

interface Harness {
  app: App;
  invokes: number;
  runs: Promise<DrainSummary>[];
  startedAt: Map<string, number>;
  settle(): Promise<void>;
}

function harness(newDb: () => Db): Harness {
  const h: Harness = {
    app: undefined as unknown as App,
    invokes: 0,
    runs: [],
    startedAt: new Map(),
    async settle() {
      for (let done = 0; done < h.runs.length;) {
        const batch = h.runs.slice(done);
        await Promise.all(batch);
        done += batch.length;
      }
    },
  };
  h.app = benchApp(newDb(), { onDispatch: (id) => h.startedAt.set(id, Date.now()) });
  return h;
}

function invokeFor(h: Harness, newDb: () => Db) {
  return async (queue: string) => {
    h.invokes++;
    h.runs.push(drain({ ...h.app, db: newDb() }, { queue, remainingTimeMs: () => 900_000, linger: { idleMs: LINGER_MS, woken: true } }));
  };
}

/** `count` single-message enqueues at `perSecond`, each answered before the next is due; latency to the handler's start. */
export async function pickupLatency(options: { newDb: () => Db; count: number; perSecond: number }): Promise<PickupResult> {
  const h = harness(options.newDb);
  const wakerDb = options.newDb();
  const waker = new Waker({ db: wakerDb, clock: systemClock, queues: [BENCH_QUEUE], invoke: invokeFor(h, options.newDb) });
  const app = { ...h.app, waker };
  const enqueueCallsBefore = app.db.stats.calls;
  const answeredAt = new Map<string, number>();
  const start = Date.now();
  for (let n = 0; n < options.count; n++) {
    const due = start + (n * 1_000) / options.perSecond;
    if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    const [answer] = await enqueue(app, BENCH_QUEUE, [{ type: BENCH_TYPE, payload: benchPayload(n) }]);
    answeredAt.set(answer!.id, Date.now());
  }
  const enqueueCalls = app.db.stats.calls - enqueueCallsBefore + wakerDb.stats.calls;
  await h.settle();
  const summaries = await Promise.all(h.runs);
  const latencies = [...answeredAt].map(([id, at]) => (h.startedAt.get(id) ?? Number.NaN) - at);
  const messages = latencies.length;
  return {
    messages,
    latency: figure(latencies),
    p99Ms: percentile(latencies, 0.99),
    invokes: h.invokes,
    drainCallsPerMessage: summaries.reduce((sum, run) => sum + run.dataApiCalls, 0) / messages,
    enqueueCallsPerMessage: enqueueCalls / messages,
    drainSecondsPerMessage: summaries.reduce((sum, run) => sum + run.durationMs, 0) / 1_000 / messages,
  };
}

/** `containers` processes enqueue `perSecond` messages in total for `seconds`, in batches of `batch`; what the wakes cost. */
export async function wakeCost(options: {
  newDb: () => Db;
  pool: mysql.Pool;
  perSecond: number;
  seconds: number;
  containers: number;
  batch: number;
}): Promise<WakeCostResult> {
  const h = harness(options.newDb);
  const invoke = invokeFor(h, options.newDb);
  const wakeDbs = Array.from({ length: options.containers }, () => options.newDb());
  const results: Partial<Record<WakeResult, number>> = {};
  const count = (result: WakeResult) => (results[result] = (results[result] ?? 0) + 1);
  const containers = wakeDbs.map((db) => {
    const waker = new Waker({ db, clock: systemClock, queues: [BENCH_QUEUE], invoke });
    const wake = waker.wake.bind(waker);
    waker.wake = async (queue) => {
      const result = await wake(queue);
      count(result);
      return result;
    };
    return { ...h.app, db: options.newDb(), waker };
  });
  const callsPerContainer = options.perSecond / options.containers / options.batch;
  const start = Date.now();
  let messages = 0;
  await Promise.all(
    containers.map(async (app, c) => {
      for (let n = 0; ; n++) {
        const due = start + (n * 1_000) / callsPerContainer + (c * 1_000) / callsPerContainer / options.containers;
        if (due >= start + options.seconds * 1_000) return;
        if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
        await enqueue(
          app,
          BENCH_QUEUE,
          Array.from({ length: options.batch }, (_, i) => ({ type: BENCH_TYPE, payload: benchPayload(n * options.batch + i) })),
        );
        messages += options.batch;
      }
    }),
  );
  const seconds = (Date.now() - start) / 1_000;
  await h.settle();
  const wakeCalls = wakeDbs.reduce((sum, db) => sum + db.stats.calls, 0);
  return { messages, seconds, wakeCallsPerMessage: wakeCalls / messages, invokesPerSecond: h.invokes / seconds, results };
}
