/**
 * Runs one scenario of the randomized invariant test (test/support/invariants/scenario.ts) on the
 * real stack and records its trace for the checker (test/support/invariants/check.ts):
 *
 * - producers through the product's API: one `enqueue` before the drains start, `enqueue`s while
 *   they run, and `enqueueInTransaction` inside Data API transactions held open before they commit
 *   (then `wakeDrain`, as the outbox example does) or roll back;
 * - drains as production starts them: every second an emulated schedule starts a run (at most
 *   MAX_SCHEDULED_RUNS at once), and an enqueue's wake starts a lingering one (the App's waker,
 *   invoking an in-process run instead of a Lambda); runs have a Lambda's time budget;
 * - lingering drain processes (test/chaos/drainProcess.ts) SIGKILLed after a few dispatches or a while;
 * - Data API faults injected into the local server: a background rate, and outages in which most
 *   statements fail; every fault fired is timed (the server's injector is wrapped for this), and
 *   so is every warning or error the in-process runs log (a failed claim, permits not given back);
 * - the machine's own stalls (this process's event loop late, the database slow to answer
 *   `SELECT 1`), so a wait the machine caused is not held against the product.
 *
 * Handlers record their own start and end times (the chaos harness's dispatch log). The same seed
 * gives the same scenario, not the same interleaving: a replay reruns the scenario, and a failure
 * that depends on timing may need a few replays. INVARIANT_TRACE_DIR keeps each seed's trace.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createApp } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import type { FaultRule } from '../../dev/data-api/faults.js';
import { drain, type DrainLog, type DrainSummary } from '../../lib/drain/index.js';
import { enqueue, enqueueInTransaction, wakeDrain, type EnqueueMessage } from '../../lib/enqueue.js';
import { Waker } from '../../lib/wake.js';
import { startStack } from '../support/stack.js';
import { busiestWindow, checkTrace, formatViolations, merge, mostAtOnce, type Trace, type TraceMessage, type Violation } from '../support/invariants/check.js';
import { describeScenario, generateScenario, type Producer, type Scenario, type ScenarioMessage, type ScenarioSize } from '../support/invariants/scenario.js';
import {
  CHAOS_QUEUE,
  CHAOS_QUEUE_DECLARATION,
  CHAOS_TUNING,
  HANDLER_TIMEOUT_MS,
  LEASE_SECONDS,
  chaosApp,
  chaosDb,
  chaosQueue,
  createDispatchLog,
  liveMessages,
  spawnDrain,
  type DispatchLog,
} from './harness.js';
import { CHAOS_TYPE, scriptedJobType } from './scripts.js';
import type { Stack } from '../support/stack.js';

/** The emulated schedule starts a run this often (the deployment's is a minute: this is time compressed). */
const SCHEDULE_PERIOD_MS = 1_000;
/** A tick starts no scheduled run while this many in-process runs are active (two cores). */
const MAX_SCHEDULED_RUNS = 3;
/** A run's time budget, as a Lambda's timeout: runs also stop for time while work keeps coming. */
const RUN_BUDGET_MS = 10_000;
/** How long a run lingers on a dry queue (the drain handler's default: twice the wake interval). */
const LINGER_MS = 2_000;
/**
 * Once everything is enqueued and due: what is left counts as stuck when no message has finished
 * for this long (three leases: work a kill or a lost reply left leased comes back within one), or
 * at the latest after SETTLE_DEADLINE_MS (a FIFO queue of few groups can be slow, not stuck).
 */
const STUCK_WITHOUT_PROGRESS_MS = 3 * LEASE_SECONDS * 1_000;
const SETTLE_DEADLINE_MS = 90_000;
/** An event loop late by more than this counts as a pause of the test process. */
const PAUSE_THRESHOLD_MS = 150;

export interface SeedResult {
  scenario: Scenario;
  trace: Trace;
  /** What the in-process drain runs logged, when (for the trace file). */
  drainLog: { atMs: number; message: string }[];
  violations: Violation[];
  /** Counts for the one-line report. */
  report: Record<string, number | string>;
}

/** The command that reruns one seed's scenario. */
export function replayCommand(seed: number, size: ScenarioSize): string {
  return `INVARIANT_SEED=${seed}${size === 'full' ? '' : ` INVARIANT_SIZE=${size}`} npm run test:chaos -- test/chaos/invariants.test.ts`;
}

/**
 * Generates, runs and checks one seed on a stack of its own. With INVARIANT_TRACE_DIR set, the
 * scenario, its trace and the violations are written there as seed-<seed>-<size>.json, to study
 * a failure (or rerun the checker on it) without running the seed again.
 */
export async function runSeed(seed: number, size: ScenarioSize): Promise<SeedResult> {
  const scenario = generateScenario(seed, size);
  const stack = await startStack();
  let result: SeedResult;
  try {
    const { trace, report, drainLog } = await runScenario(stack, scenario);
    result = { scenario, trace, drainLog, violations: checkTrace(trace), report };
  } finally {
    await stack.close();
  }
  const dir = process.env.INVARIANT_TRACE_DIR;
  if (dir !== undefined && dir !== '') {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `seed-${seed}-${size}.json`), JSON.stringify(result, null, 1));
  }
  return result;
}

/** The failure message of a seed: what it was, what broke, and how to run it again. */
export function failureMessage(result: SeedResult): string {
  const { scenario, violations } = result;
  const kinds = [...new Set(violations.map((v) => v.kind))].join(', ');
  return [
    `seed ${scenario.seed} (${scenario.size}): ${violations.length} invariant violations (${kinds})`,
    `  scenario: ${describeScenario(scenario)}`,
    formatViolations(violations),
    `  replay: ${replayCommand(scenario.seed, scenario.size)}`,
    `  (with INVARIANT_TRACE_DIR=/tmp/invariant-traces the replay also writes its trace there)`,
  ].join('\n');
}

export function reportLine(result: SeedResult): string {
  const parts = Object.entries(result.report).map(([key, value]) => `${key}=${value}`);
  return `[invariants] seed ${result.scenario.seed} (${result.scenario.size}) ${describeScenario(result.scenario)}: ${parts.join(' ')} violations=${result.violations.length}`;
}

interface ProducerRecord {
  messages: TraceMessage[];
  outcome: 'committed' | 'rolled-back' | 'failed';
}

class RolledBack extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runScenario(
  stack: Stack,
  scenario: Scenario,
): Promise<{ trace: Trace; report: Record<string, number | string>; drainLog: { atMs: number; message: string }[] }> {
  const settings = {
    fifo: scenario.queue.fifo,
    ...(scenario.queue.ratePerSecond === undefined ? {} : { ratePerSecond: scenario.queue.ratePerSecond }),
    ...(scenario.queue.concurrency === undefined ? {} : { concurrency: scenario.queue.concurrency }),
  };
  const queue = chaosQueue(settings);
  const log = await createDispatchLog(stack.sql);
  const drains = new InProcessDrains(stack, queue, log, scenario.handlerMaxSleepMs);
  const producerApp = createApp({
    db: chaosDb(stack.endpoint, stack.database),
    env: {},
    config: defineConfig({
      queues: [queue],
      jobTypes: [scriptedJobType({ record: () => {}, runner: 'producer', timeoutMs: HANDLER_TIMEOUT_MS })],
      leaseMarginMs: CHAOS_TUNING.safetyMarginMs,
    }),
    clock: systemClock,
  });
  // A wake starts a lingering run here, as the async invoke of the drain function would; a wake
  // that fails under the faults is only logged by the product, and the schedule drains instead.
  producerApp.waker = new Waker({ db: producerApp.db, clock: systemClock, queues: [CHAOS_QUEUE], invoke: async () => drains.start('wake') });

  const faults = new FaultSchedule(stack, scenario.faults.background);
  const pauses = new PauseMonitor(stack.sql);
  const startedMs = Date.now();
  const records: ProducerRecord[] = [];
  const kills: Trace['kills'] = [];
  const timers: NodeJS.Timeout[] = [];
  const at = (ms: number, action: () => void) => timers.push(setTimeout(action, Math.max(0, startedMs + ms - Date.now())));

  const produce = async (producer: Producer, index: number): Promise<void> => {
    const record: ProducerRecord = { messages: [], outcome: 'failed' };
    records.push(record);
    let enqueuedAtMs = Date.now();
    let insertedAtMs = Number.NaN;
    let committedAtMs = Number.NaN;
    /** One enqueue call, timed (the transaction's work may run again after a deadlock). */
    const insert = async (call: (messages: EnqueueMessage[]) => Promise<unknown>): Promise<void> => {
      enqueuedAtMs = Date.now();
      try {
        await call(producer.messages.map((m) => toEnqueue(m, enqueuedAtMs)));
      } finally {
        insertedAtMs = Date.now();
      }
    };
    try {
      if (producer.kind === 'transaction') {
        await producerApp.db.transaction(async (tx) => {
          await insert((messages) => enqueueInTransaction(producerApp, tx.transactionId!, CHAOS_QUEUE, messages));
          await sleep(producer.holdMs);
          if (producer.rollback) throw new RolledBack();
        });
        committedAtMs = Date.now();
        record.outcome = 'committed';
        await wakeDrain(producerApp, CHAOS_QUEUE);
      } else {
        await insert((messages) => enqueue(producerApp, CHAOS_QUEUE, messages));
        committedAtMs = insertedAtMs;
        record.outcome = 'committed';
      }
    } catch (error) {
      record.outcome = error instanceof RolledBack ? 'rolled-back' : 'failed';
    }
    const settledAtMs = Date.now();
    record.messages = producer.messages.map((m, position) => ({
      n: m.n,
      ...(m.groupKey === undefined ? {} : { groupKey: m.groupKey }),
      steps: m.steps,
      maxAttempts: m.maxAttempts,
      producer: index,
      position,
      kind: producer.kind,
      enqueuedAtMs,
      // A Begin that failed never reached the insert.
      insertedAtMs: Number.isNaN(insertedAtMs) ? enqueuedAtMs : insertedAtMs,
      dueAtMs: enqueuedAtMs + m.delayMs,
      ...(record.outcome === 'committed' ? { committedAtMs } : {}),
      settledAtMs,
      rolledBack: record.outcome === 'rolled-back',
    }));
  };

  // The seed producer, before any drain or fault.
  const [seed, ...online] = scenario.producers;
  await produce(seed!, 0);

  pauses.start();
  faults.start();
  const schedule = setInterval(() => {
    if (drains.active < MAX_SCHEDULED_RUNS) drains.start('schedule');
  }, SCHEDULE_PERIOD_MS);
  drains.start('schedule');

  const producing = online.map(
    (producer, i) =>
      new Promise<void>((resolve) => {
        at(producer.atMs, () => void produce(producer, i + 1).then(resolve));
      }),
  );
  for (const outage of scenario.faults.outages) {
    at(outage.atMs, () => faults.beginOutage(outage.probability));
    at(outage.atMs + outage.durationMs, () => faults.endOutage());
  }
  const killing = scenario.killedDrains.map(
    (killed, i) =>
      new Promise<void>((resolve) => {
        at(killed.atMs, () => {
          // A woken run that lingers: still polling when its kill comes, even if the queue ran dry.
          const child = spawnDrain(stack, `killed${i + 1}`, {
            CHAOS_QUEUE_SETTINGS: JSON.stringify(settings),
            CHAOS_MAX_SLEEP_MS: String(scenario.handlerMaxSleepMs),
            CHAOS_LINGER_MS: String(LINGER_MS),
          });
          void killWhen(child, log, killed.killAfterDispatches, Date.now() + killed.killAfterMs).then((atMs) => {
            if (atMs !== undefined) kills.push({ runner: child.runner, atMs });
            resolve();
          });
        });
      }),
  );

  await Promise.all([...producing, ...killing]);
  const messages = records.flatMap((r) => r.messages);
  const lastMs = Math.max(Date.now(), ...messages.map((m) => m.dueAtMs));
  let stuck = false;
  let left = Number.POSITIVE_INFINITY;
  let progressMs = lastMs;
  for (;;) {
    const { live } = await liveMessages(stack.sql);
    if (live === 0) break;
    if (live < left) {
      left = live;
      progressMs = Math.max(progressMs, Date.now());
    }
    if (Date.now() > progressMs + STUCK_WITHOUT_PROGRESS_MS || Date.now() > lastMs + SETTLE_DEADLINE_MS) {
      stuck = true;
      break;
    }
    await sleep(100);
  }
  clearInterval(schedule);
  for (const timer of timers) clearTimeout(timer);
  // Nothing is left to claim (or the deadline passed): the lingering runs need not wait it out.
  await drains.stop();
  faults.stop();
  pauses.stop();

  const [rowList] = await stack.sql.query(`SELECT id, status, attempts, last_error, JSON_EXTRACT(payload, '$.n') AS n FROM queue_messages WHERE queue = ?`, [
    CHAOS_QUEUE,
  ]);
  const rows = (rowList as { id: string; status: string; attempts: number; last_error: string | null; n: string | number }[]).map((r) => ({
    id: r.id,
    n: Number(r.n),
    status: r.status,
    attempts: Number(r.attempts),
    lastError: r.last_error,
  }));
  const dispatches = (await log.all()).map((d) => ({
    messageId: d.messageId,
    attempt: d.attempt,
    runner: d.runner,
    startedMs: d.startedMs!,
    ...(d.endedMs === undefined ? {} : { endedMs: d.endedMs }),
  }));
  const trace: Trace = {
    originMs: startedMs,
    queue: scenario.queue,
    leaseMs: LEASE_SECONDS * 1_000,
    handlerTimeoutMs: HANDLER_TIMEOUT_MS,
    retryBackoffMaxMs: CHAOS_QUEUE_DECLARATION.backoff?.maxMs ?? 0,
    messages,
    rows,
    dispatches,
    kills,
    outages: faults.outages,
    lostRepliesAtMs: faults.lostRepliesAtMs,
    refusedAtMs: faults.refusedAtMs,
    delaysAtMs: faults.delayedAtMs,
    drainTroubleAtMs: drains.troubles.map((t) => t.atMs),
    pauses: pauses.pauses,
    openTransactions: stack.server.stats().openTransactions,
  };

  const summaries = drains.summaries;
  const total = (pick: (s: DrainSummary) => number) => summaries.reduce((sum, s) => sum + pick(s), 0);
  const report = {
    committed: records.filter((r) => r.outcome === 'committed').reduce((sum, r) => sum + r.messages.length, 0),
    rolledBack: records.filter((r) => r.outcome === 'rolled-back').reduce((sum, r) => sum + r.messages.length, 0),
    failedToEnqueue: records.filter((r) => r.outcome === 'failed').reduce((sum, r) => sum + r.messages.length, 0),
    done: rows.filter((r) => r.status === 'done').length,
    dead: rows.filter((r) => r.status === 'dead').length,
    dispatches: dispatches.length,
    runs: summaries.length,
    killed: kills.length,
    faults: faults.lostRepliesAtMs.length + faults.refusedAtMs.length,
    delays: faults.delayedAtMs.length,
    pausedMs: merge(pauses.pauses).reduce((sum, p) => sum + p.toMs - p.fromMs, 0),
    mostAtOnce: mostAtOnce(dispatches.map((d) => ({ fromMs: d.startedMs, toMs: d.endedMs ?? d.startedMs }))).count,
    busiestSecond: busiestWindow(
      dispatches.map((d) => d.startedMs),
      1_000,
    ).count,
    unsettled: total((s) => s.unsettled),
    lostLeases: total((s) => s.lostLeases),
    drainErrors: total((s) => s.errors.length) + drains.failures.length,
    drainWarnings: drains.troubles.length,
    ...(stuck ? { stuck: 'yes' } : {}),
    durationMs: Date.now() - startedMs,
  };
  return { trace, report, drainLog: drains.troubles };
}

function toEnqueue(message: ScenarioMessage, enqueuedAtMs: number): EnqueueMessage {
  return {
    type: CHAOS_TYPE,
    payload: { steps: message.steps, n: message.n },
    maxAttempts: message.maxAttempts,
    ...(message.groupKey === undefined ? {} : { groupKey: message.groupKey }),
    ...(message.delayMs === 0 ? {} : { availableAt: new Date(enqueuedAtMs + message.delayMs).toISOString() }),
  };
}

/** SIGKILLs `child` once it has dispatched `dispatches` messages or at `deadlineMs`; answers when, or undefined when it exited first. */
async function killWhen(child: ReturnType<typeof spawnDrain>, log: DispatchLog, dispatches: number, deadlineMs: number): Promise<number | undefined> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  for (;;) {
    if (exited) return undefined;
    if (Date.now() >= deadlineMs || (await log.count(child.runner)) >= dispatches) {
      if (!child.process.kill('SIGKILL')) return undefined;
      const atMs = Date.now();
      await child.exited;
      return atMs;
    }
    await sleep(20);
  }
}

/** Drain runs in this process, each with its own Db, as separate Lambda invocations. */
class InProcessDrains {
  readonly summaries: DrainSummary[] = [];
  readonly failures: string[] = [];
  /** When a run logged a warning or an error (what it said, for the trace file). */
  readonly troubles: { atMs: number; message: string }[] = [];
  readonly #log: DrainLog = {
    warn: (message) => void this.troubles.push({ atMs: Date.now(), message }),
    error: (message) => void this.troubles.push({ atMs: Date.now(), message }),
  };
  readonly #running = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #started = 0;

  constructor(
    private readonly stack: Stack,
    private readonly queue: ReturnType<typeof chaosQueue>,
    private readonly log: DispatchLog,
    private readonly maxSleepMs: number,
  ) {}

  get active(): number {
    return this.#running.size;
  }

  start(kind: 'schedule' | 'wake'): void {
    if (this.#abort.signal.aborted) return;
    const runner = `${kind}${++this.#started}`;
    const app = chaosApp(
      chaosDb(this.stack.endpoint, this.stack.database),
      scriptedJobType({ record: this.log.record, runner, timeoutMs: HANDLER_TIMEOUT_MS, maxSleepMs: this.maxSleepMs }),
      this.queue,
    );
    const untilMs = Date.now() + RUN_BUDGET_MS;
    const run = drain(app, {
      queue: CHAOS_QUEUE,
      remainingTimeMs: () => untilMs - Date.now(),
      tuning: CHAOS_TUNING,
      linger: { idleMs: LINGER_MS, woken: kind === 'wake' },
      signal: this.#abort.signal,
      log: this.#log,
    })
      .then(
        (summary) => void this.summaries.push(summary),
        (error: unknown) => void this.failures.push(`${runner}: ${String(error)}`),
      )
      .finally(() => this.#running.delete(run));
    this.#running.add(run);
  }

  /** Stops every run (nothing is left for them) and waits for them to end. */
  async stop(): Promise<void> {
    this.#abort.abort();
    while (this.#running.size > 0) await Promise.all(this.#running);
  }
}

/**
 * The scenario's faults on the local Data API server: a background rate of every kind the chaos
 * suite injects (lost replies for statements only, as faults.test.ts explains), and outages in
 * which most statements fail before running. Records when each fault fired.
 */
class FaultSchedule {
  readonly outages: { fromMs: number; toMs: number }[] = [];
  readonly lostRepliesAtMs: number[] = [];
  readonly refusedAtMs: number[] = [];
  readonly delayedAtMs: number[] = [];
  #outages: { probability: number; fromMs: number }[] = [];
  #restore: (() => void) | undefined;

  constructor(
    private readonly stack: Stack,
    private readonly background: number,
  ) {}

  start(): void {
    const injector = this.stack.server.faults as typeof this.stack.server.faults & { take(operation: string, sql?: string): FaultRule | undefined };
    const take = injector.take.bind(injector);
    injector.take = (operation: string, sql?: string) => {
      const rule = take(operation, sql);
      if (rule !== undefined)
        (rule.kind === 'delay' ? this.delayedAtMs : rule.kind === 'unavailable-after' ? this.lostRepliesAtMs : this.refusedAtMs).push(Date.now());
      return rule;
    };
    this.#restore = () => {
      delete (injector as Partial<typeof injector>).take;
    };
    this.#apply();
  }

  beginOutage(probability: number): void {
    this.#outages.push({ probability, fromMs: Date.now() });
    this.#apply();
  }

  endOutage(): void {
    const outage = this.#outages.shift();
    if (outage !== undefined) this.outages.push({ fromMs: outage.fromMs, toMs: Date.now() });
    this.#apply();
  }

  stop(): void {
    while (this.#outages.length > 0) this.endOutage();
    this.stack.server.faults.clear();
    this.#restore?.();
  }

  #apply(): void {
    const faults = this.stack.server.faults;
    faults.clear();
    const outage = Math.max(0, ...this.#outages.map((o) => o.probability));
    if (outage > 0) faults.inject({ kind: 'unavailable', probability: outage, operations: ['Execute', 'BatchExecute'] });
    const p = this.background;
    if (p > 0) {
      faults.inject({ kind: 'resuming', probability: p });
      faults.inject({ kind: 'unavailable', probability: p });
      faults.inject({ kind: 'unavailable-after', probability: p / 2, operations: ['Execute'] });
      faults.inject({ kind: 'delay', probability: p, delayMs: 300 });
    }
  }
}

/**
 * Records when the machine, not the product, lost time: this process's event loop ran late, or
 * the database took long to answer a trivial query (`SELECT 1` waits on no lock, only on a busy
 * machine). Other engineers' tests share the two cores.
 */
class PauseMonitor {
  readonly pauses: { fromMs: number; toMs: number }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #probing = false;

  constructor(private readonly sql: Stack['sql']) {}

  start(): void {
    let lastMs = Date.now();
    this.#timer = setInterval(() => {
      const nowMs = Date.now();
      if (nowMs - lastMs > 20 + PAUSE_THRESHOLD_MS) this.pauses.push({ fromMs: lastMs + 20, toMs: nowMs });
      lastMs = nowMs;
      if (this.#probing) return;
      this.#probing = true;
      const sentMs = nowMs;
      void this.sql
        .query('SELECT 1')
        .then(() => {
          const answeredMs = Date.now();
          if (answeredMs - sentMs > PAUSE_THRESHOLD_MS) this.pauses.push({ fromMs: sentMs, toMs: answeredMs });
        })
        .catch(() => {})
        .finally(() => (this.#probing = false));
    }, 20);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
