/**
 * Heartbeats at full scale (issue 25): "a handler of 90 s on a queue with a 30 s lease runs once,
 * with no second delivery; if its drain is killed mid-run, another drain runs it within 30 s plus
 * a claim, not 90." In real time, in two parts:
 *
 * - runs once: drain A runs the one message's handler in-process while drain B polls the queue
 *   all along (lingering runs, one after another): the handler must start once, and A's beats are
 *   counted in Data API calls;
 * - killed drain: A runs it in its own process (lib/heartbeatDrainProcess.ts), SIGKILLed
 *   `killAfterMs` into the handler; B, polling all along, must start it again one lease after A's
 *   last beat at most (plus a claim), long before A's handler would have ended.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { App } from '../../lib/app.js';
import type { Db } from '../../lib/db/types.js';
import { drain, type DrainSummary } from '../../lib/drain/drain.js';
import { enqueue } from '../../lib/enqueue.js';
import { CLAIM_ALLOWANCE_MS } from '../../lib/queues.js';
import { sleep } from '../../lib/sleep.js';
import { EXTEND_HELD_LEASES } from '../../lib/sql/extendHeldLeases.js';
import { READ_HELD_LEASES } from '../../lib/sql/readHeldLeases.js';
import { dataApiDb } from '../lib/database.js';
import { HEARTBEAT_QUEUE, heartbeatApp, heartbeatTuning, LONG_TYPE, type HeartbeatScale } from '../lib/heartbeatApp.js';
import type { Row } from '../lib/report.js';
import { figure } from '../lib/stats.js';

const projectDir = fileURLToPath(new URL('../..', import.meta.url));

/**
 * B's runs are woken, lingering runs: each polls the dry queue (every 50–100 ms) for this long, then
 * looks ahead, sees the running message's lease end and polls again from then on; a run ends once
 * the queue holds nothing (or is stopped), and the next starts.
 */
const POLL_RUN_IDLE_MS = 2_000;

export interface HeartbeatResult {
  scale: HeartbeatScale;
  /** Runs once: handler starts, over A's run and all of B's (1: no second delivery). */
  starts: number;
  /** A's run: messages done (1), and its lost leases (0). */
  doneByA: number;
  lostLeasesOfA: number;
  /** A's heartbeats, in Data API calls (each beat one statement, plus a read-back when it matched short). */
  beatCalls: number;
  /** All of A's run's Data API calls: the claim, the beats, the lane's cancel polls, the settle. */
  callsOfA: number;
  /** B's polling runs during A's, their Data API calls, and what they claimed (0). */
  pollRuns: number;
  callsOfB: number;
  claimedByB: number;
  /** Killed drain: SIGKILL → B's handler started, in ms. */
  takeoverMs: number;
  /** A's handler started → B's started, in ms. */
  restartMs: number;
  /** B started the handler before A was killed: A's lease was lost (the figures above are NaN). */
  startedBeforeKill: boolean;
  /** The attempt B ran (2), and whether B's run settled it done. */
  attemptOfB: number;
  doneByB: boolean;
}

export async function heartbeatScenario(input: { endpoint: string; database: string; scale: HeartbeatScale }): Promise<HeartbeatResult> {
  return { scale: input.scale, ...(await runsOnce(input)), ...(await killedDrain(input)) };
}

/** Counts the Data API calls of these statements, as they pass. */
function countingDb(db: Db, statements: readonly string[]): { db: Db; count(): number } {
  let count = 0;
  const seen = (sql: string) => {
    if (statements.includes(sql)) count++;
  };
  return {
    db: {
      query: (sql, params, options) => (seen(sql), db.query(sql, params, options)),
      execute: (sql, params, options) => (seen(sql), db.execute(sql, params, options)),
      batch: (sql, sets, options) => (seen(sql), db.batch(sql, sets, options)),
      transaction: (work) => db.transaction(work),
      withTransactionId: (id) => db.withTransactionId(id),
      get transactionId() {
        return db.transactionId;
      },
      get stats() {
        return db.stats;
      },
    },
    count: () => count,
  };
}

/** Drain runs of `app` one after another, each lingering on the dry queue, until `stop` aborts (or `until` answers true after a run). */
async function pollingRuns(app: App, scale: HeartbeatScale, stop: AbortSignal, until: (summary: DrainSummary) => boolean = () => false) {
  const summaries: DrainSummary[] = [];
  while (!stop.aborted) {
    const summary = await drain(app, {
      queue: HEARTBEAT_QUEUE,
      remainingTimeMs: () => 600_000,
      linger: { idleMs: POLL_RUN_IDLE_MS, woken: true },
      tuning: heartbeatTuning(scale),
      signal: stop,
    });
    summaries.push(summary);
    if (until(summary)) break;
  }
  return summaries;
}

async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`heartbeat: timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function runsOnce(input: { endpoint: string; database: string; scale: HeartbeatScale }) {
  const { scale } = input;
  let starts = 0;
  const counted = countingDb(dataApiDb(input.endpoint, input.database), [EXTEND_HELD_LEASES, READ_HELD_LEASES]);
  const a = heartbeatApp(counted.db, scale, () => starts++);
  const b = heartbeatApp(dataApiDb(input.endpoint, input.database), scale, () => starts++);
  await enqueue(a, HEARTBEAT_QUEUE, [{ type: LONG_TYPE, payload: {} }]);
  const runOfA = drain(a, { queue: HEARTBEAT_QUEUE, remainingTimeMs: () => 600_000, tuning: heartbeatTuning(scale) });
  await waitUntil(() => starts > 0, 30_000, "A's handler to start");
  const stop = new AbortController();
  const polls = pollingRuns(b, scale, stop.signal);
  const summaryOfA = await runOfA;
  stop.abort();
  const pollSummaries = await polls;
  return {
    starts,
    doneByA: summaryOfA.done,
    lostLeasesOfA: summaryOfA.lostLeases,
    beatCalls: counted.count(),
    callsOfA: summaryOfA.dataApiCalls,
    pollRuns: pollSummaries.length,
    callsOfB: pollSummaries.reduce((sum, s) => sum + s.dataApiCalls, 0),
    claimedByB: pollSummaries.reduce((sum, s) => sum + s.claimed, 0),
  };
}

async function killedDrain(input: { endpoint: string; database: string; scale: HeartbeatScale }) {
  const { scale } = input;
  let startOfB: { at: number; attempt: number } | undefined;
  const b = heartbeatApp(dataApiDb(input.endpoint, input.database), scale, (context) => (startOfB ??= { at: performance.now(), attempt: context.attempt }));
  await enqueue(b, HEARTBEAT_QUEUE, [{ type: LONG_TYPE, payload: {} }]);

  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/heartbeatDrainProcess.ts'], {
    cwd: projectDir,
    env: {
      ...process.env,
      BENCH_ENDPOINT: input.endpoint,
      BENCH_DATABASE: input.database,
      BENCH_HEARTBEAT_SCALE: JSON.stringify(scale),
      NODE_NO_WARNINGS: '1',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let startOfA: number | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('STARTED ')) startOfA ??= performance.now();
  });
  try {
    await waitUntil(() => startOfA !== undefined, 60_000, "the drain process's handler to start");
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }

  // B polls from the start of A's handler: it must not get the message before A is killed.
  const stop = new AbortController();
  const polls = pollingRuns(b, scale, stop.signal, (summary) => summary.claimed > 0);
  await sleep(startOfA! + scale.killAfterMs - performance.now());
  // B starting it while A still ran it (A's lease lost) leaves no takeover to time: a miss, noted.
  const startedBeforeKill = startOfB !== undefined;
  child.kill('SIGKILL');
  const killedAt = performance.now();
  const signal = await exited;
  if (signal !== 'SIGKILL') {
    stop.abort();
    await polls;
    throw new Error(`heartbeat: the drain process ended before its kill (${signal})`);
  }
  // B gives up a lease plus the handler's timeout after the kill: by then even a lease that fit the handler whole would have run out.
  const giveUp = setTimeout(() => stop.abort(), scale.timeoutMs + scale.leaseSeconds * 1_000);
  const summaries = await polls;
  clearTimeout(giveUp);
  const timed = startOfB !== undefined && !startedBeforeKill;
  return {
    takeoverMs: timed ? startOfB!.at - killedAt : Number.NaN,
    restartMs: timed ? startOfB!.at - startOfA! : Number.NaN,
    startedBeforeKill,
    attemptOfB: startOfB?.attempt ?? Number.NaN,
    doneByB: summaries.some((s) => s.done === 1),
  };
}

/** The section's rows: the targets scale with the lease and the handler measured. */
export function heartbeatRows(results: readonly HeartbeatResult[]): Row[] {
  if (results.length === 0) return [];
  const { scale } = results[0]!;
  const seconds = (ms: number) => `${Number((ms / 1_000).toFixed(1))} s`;
  const lease = seconds(scale.leaseSeconds * 1_000);
  const takeoverLimitMs = scale.leaseSeconds * 1_000 + CLAIM_ALLOWANCE_MS;
  const fig = (pick: (result: HeartbeatResult) => number) => figure(results.map(pick));
  return [
    {
      id: 'heartbeat runs',
      what:
        `a handler of ${seconds(scale.handlerMs)} (timeout ${seconds(scale.timeoutMs)}) on a ${lease} lease: drain A runs it while drain B polls the queue all along ` +
        `(woken, lingering runs back to back, which poll again as the lease would end): handler starts`,
      unit: '',
      figure: fig((r) => r.starts),
      target: { op: '==', value: 1, text: '1: no second delivery' },
      note: `A: done ${results.map((r) => r.doneByA).join(', ')}, leases lost ${results.map((r) => r.lostLeasesOfA).join(', ')}; B: ${results.map((r) => `${r.pollRuns} run(s), ${r.callsOfB} calls, ${r.claimedByB} claimed`).join('; ')}`,
    },
    {
      id: 'heartbeat calls',
      what: `the same: Data API calls of A's heartbeats over the handler (one beat a third of the lease, ${seconds((scale.leaseSeconds * 1_000) / 3)})`,
      unit: '',
      figure: fig((r) => r.beatCalls),
      note: `of ${Math.round(fig((r) => r.callsOfA).median)} calls in A's run (claim, beats, its cancel-request polls, settle)`,
    },
    {
      id: 'heartbeat takeover',
      what: `drain A in its own process, SIGKILLed ${seconds(scale.killAfterMs)} into that handler; drain B polling all along: kill → B's handler started`,
      unit: 's',
      figure: fig((r) => r.takeoverMs / 1_000),
      target: { op: '<=', value: takeoverLimitMs / 1_000, text: `≤ ${lease} + a claim (${seconds(takeoverLimitMs)})` },
      note: `the lease runs from A's last beat: ${Number(((scale.leaseSeconds * 2) / 3).toFixed(1))}–${lease} expected`,
    },
    {
      id: 'heartbeat restart',
      what: `the same: A's handler started → B's started (A's handler would have worked ${seconds(scale.handlerMs)})`,
      unit: 's',
      figure: fig((r) => r.restartMs / 1_000),
      target: {
        op: '<=',
        value: (scale.killAfterMs + takeoverLimitMs) / 1_000,
        text: `≤ kill + ${lease} + a claim, not ${seconds(scale.handlerMs)} after the kill`,
      },
      note: results
        .map((r) => `${r.startedBeforeKill ? 'B started it before the kill: ' : ''}attempt ${r.attemptOfB}${r.doneByB ? ' done' : ' not done'}`)
        .join(', '),
    },
  ];
}
