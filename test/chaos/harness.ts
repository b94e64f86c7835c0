/**
 * The chaos suite's harness: scripted messages seeded through the product's own insert, drain
 * runs in rounds until the queue is empty (as the schedule would run them), a dispatch log that
 * survives SIGKILL, and the invariants checked on the final table.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type mysql from 'mysql2/promise';
import { createApp, type App } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { createDb } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { drain, type DrainSummary, type DrainTuning } from '../../lib/drain/index.js';
import { uuidv7 } from '../../lib/ids.js';
import type { JobType } from '../../lib/jobs/types.js';
import type { QueueDeclaration } from '../../lib/queues.js';
import { withFairRounds } from '../../lib/sql/fairRounds.js';
import { insertMessages, type NewMessage } from '../../lib/sql/insertMessages.js';
import { DATABASE_URL } from '../support/database.js';
import { RESOURCE_ARN, SECRET_ARN, type Stack } from '../support/stack.js';
import { CHAOS_TYPE, expectedOutcome, scriptedJobType, type DispatchRecord, type Script } from './scripts.js';
import { defineConfig } from '../../lib/config.js';

export const CHAOS_QUEUE = 'chaos';

/** Short, so that work a killed or frozen drainer held comes back within the test. */
export const LEASE_SECONDS = 4;

/**
 * The Data API faults the chaos tests run under, on the stack's local server: the cluster
 * resuming, 503s before and after the statement ran, slow calls. Lost replies only for statements:
 * a lost BeginTransaction reply leaves an empty transaction open for its 3-minute idle timeout by
 * design (lib/db), which the open-transaction check would count. Undo with `faults.clear()`.
 */
export function injectDataApiFaults(stack: Stack, rates: { refused: number } = { refused: 0.03 }): void {
  const faults = stack.server.faults;
  faults.inject({ kind: 'resuming', probability: rates.refused });
  faults.inject({ kind: 'unavailable', probability: rates.refused });
  faults.inject({ kind: 'unavailable-after', probability: 0.01, operations: ['Execute'] });
  faults.inject({ kind: 'delay', probability: 0.05, delayMs: 300 });
}

export const CHAOS_QUEUE_DECLARATION: QueueDeclaration = {
  name: CHAOS_QUEUE,
  leaseSeconds: LEASE_SECONDS,
  batchSize: 50,
  drainConcurrency: 50,
  // Retries come due within the test.
  backoff: { baseMs: 20, maxMs: 200 },
};

/** Fits the 4 s lease: a handler's 1 s timeout plus the margin, three waves of it per claim. */
export const CHAOS_TUNING: Partial<DrainTuning> = { safetyMarginMs: 500, defaultTimeoutMs: 1_000, settleLingerMs: 20 };
export const HANDLER_TIMEOUT_MS = 1_000;

/** A Db whose retries wait milliseconds, not the seconds a real resume takes. */
export function chaosDb(endpoint: string, database: string): Db {
  return createDb({
    endpoint,
    resourceArn: RESOURCE_ARN,
    secretArn: SECRET_ARN,
    database,
    resumeRetry: { delaysMs: [10, 50, 100], maxWaitMs: 1_000 },
    unavailableRetry: { delaysMs: [10, 50, 100] },
  });
}

/**
 * The chaos queue with some settings changed; a child process gets the same through
 * CHAOS_QUEUE_SETTINGS (JSON of these settings).
 */
export function chaosQueue(settings: Partial<Omit<QueueDeclaration, 'name'>>): QueueDeclaration {
  return { ...CHAOS_QUEUE_DECLARATION, ...settings };
}

/** `queue` replaces the chaos queue's declaration (same name), e.g. with a longer lease. */
export function chaosApp(db: Db, jobType: JobType, queue: QueueDeclaration = CHAOS_QUEUE_DECLARATION): App {
  return createApp({
    db,
    env: {},
    config: defineConfig({ queues: [queue], jobTypes: [jobType], leaseMarginMs: CHAOS_TUNING.safetyMarginMs }),
    clock: systemClock,
  });
}

export interface ChaosMessage {
  id: string;
  groupKey?: string;
  script: Script;
  maxAttempts: number;
}

/**
 * Inserts scripted messages through the product's insert (500 per call); answers them with their
 * ids. On a fair queue (`fair`), each takes its turn within its group as enqueue gives it.
 */
export async function seedScripted(
  db: Db,
  messages: readonly { script: Script; maxAttempts: number; groupKey?: string }[],
  options: { fair?: boolean } = {},
): Promise<ChaosMessage[]> {
  const now = new Date();
  const seeded = messages.map((m) => ({ ...m, id: uuidv7(now.getTime()) }));
  const rows: NewMessage[] = seeded.map((m, n) => ({
    id: m.id,
    queue: CHAOS_QUEUE,
    type: CHAOS_TYPE,
    payloadJson: JSON.stringify({ steps: m.script.steps, n }),
    priority: 0,
    maxAttempts: m.maxAttempts,
    availableAt: now,
    dedupKey: null,
    groupKey: m.groupKey ?? null,
  }));
  for (let i = 0; i < rows.length; i += 500) {
    const chunk = rows.slice(i, i + 500);
    await insertMessages(db, options.fair === true ? await withFairRounds(db, CHAOS_QUEUE, chunk, now) : chunk, now);
  }
  return seeded;
}

/** A mix of scripts, in proportions that make every outcome common enough to count. */
export function scriptMix(count: number, weights: readonly [Script['steps'], number, number][]): { script: Script; maxAttempts: number }[] {
  const total = weights.reduce((sum, [, weight]) => sum + weight, 0);
  const out: { script: Script; maxAttempts: number }[] = [];
  for (let i = 0; i < count; i++) {
    let pick = ((i * 7919) % total) + 0.5;
    for (const [steps, weight, maxAttempts] of weights) {
      pick -= weight;
      if (pick < 0) {
        out.push({ script: { steps }, maxAttempts });
        break;
      }
    }
  }
  return out;
}

/**
 * Dispatches, one row each, written by whoever dispatched: a child process awaits its row before
 * the handler runs, so a SIGKILL can lose an outcome but never hide a dispatch.
 */
export async function createDispatchLog(sql: mysql.Pool): Promise<DispatchLog> {
  await sql.query(`CREATE TABLE chaos_dispatches (
    seq        BIGINT AUTO_INCREMENT PRIMARY KEY,
    message_id CHAR(36) CHARACTER SET ascii NOT NULL,
    attempt    INT NOT NULL,
    runner     VARCHAR(64) CHARACTER SET ascii NOT NULL,
    at         DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    started_ms BIGINT NULL,
    ended_ms   BIGINT NULL,
    KEY (message_id)
  )`);
  return new DispatchLog(sql);
}

export class DispatchLog {
  /** Dispatches made in this process, written to the table in bulk by `flush`. */
  readonly #pending: DispatchRecord[] = [];

  constructor(private readonly sql: mysql.Pool) {}

  /** For handlers in this process: no await per dispatch, nothing here can be killed. */
  readonly record = (dispatch: DispatchRecord): void => {
    this.#pending.push(dispatch);
  };

  async flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const rows = this.#pending.splice(0, 2_000).map((d) => [d.messageId, d.attempt, d.runner, d.startedMs ?? null, d.endedMs ?? null]);
      await this.sql.query('INSERT INTO chaos_dispatches (message_id, attempt, runner, started_ms, ended_ms) VALUES ?', [rows]);
    }
  }

  async all(): Promise<DispatchRecord[]> {
    await this.flush();
    const [rows] = await this.sql.query('SELECT message_id, attempt, runner, started_ms, ended_ms FROM chaos_dispatches ORDER BY seq');
    return (rows as { message_id: string; attempt: number; runner: string; started_ms: string | null; ended_ms: string | null }[]).map((r) => ({
      messageId: r.message_id,
      attempt: r.attempt,
      runner: r.runner,
      ...(r.started_ms === null ? {} : { startedMs: Number(r.started_ms) }),
      ...(r.ended_ms === null ? {} : { endedMs: Number(r.ended_ms) }),
    }));
  }

  async count(runner?: string): Promise<number> {
    const [[row]] = (await this.sql.query(
      `SELECT COUNT(*) AS n FROM chaos_dispatches ${runner === undefined ? '' : 'WHERE runner = ?'}`,
      runner === undefined ? [] : [runner],
    )) as unknown as [[{ n: number }]];
    return Number(row.n) + (runner === undefined ? this.#pending.length : this.#pending.filter((d) => d.runner === runner).length);
  }
}

export async function liveMessages(sql: mysql.Pool): Promise<{ live: number; nextDue: Date | null }> {
  const [[row]] = (await sql.query(`SELECT COUNT(*) AS live, MIN(available_at) AS nextDue FROM queue_messages WHERE queue = ? AND finished_at IS NULL`, [
    CHAOS_QUEUE,
  ])) as unknown as [[{ live: number; nextDue: Date | null }]];
  return { live: Number(row.live), nextDue: row.nextDue };
}

export interface RoundsResult {
  rounds: number;
  summaries: DrainSummary[];
}

/**
 * Runs `runs` drains at once, each with its own Db (as separate Lambda invocations), round after
 * round, waiting between rounds for the next message to come due (a retry's backoff, an expired
 * lease), until no message is live or `deadline` passes.
 */
export async function drainRounds(options: {
  stack: Stack;
  log: DispatchLog;
  runs: number;
  deadline: number;
  /** Keep going while this is true even when nothing is live (e.g. children still working). */
  busy?: () => boolean;
  /** The chaos queue's declaration, when a test changes it (see chaosQueue). */
  queue?: QueueDeclaration;
  /** The scripted type as a batch type (scripts.ts). */
  batch?: { maxSize: number };
  /** The handlers' timeout (default HANDLER_TIMEOUT_MS) and longest sleep step. */
  timeoutMs?: number;
  maxSleepMs?: number;
}): Promise<RoundsResult> {
  const { stack, log } = options;
  const summaries: DrainSummary[] = [];
  let rounds = 0;
  for (;;) {
    const { live, nextDue } = await liveMessages(stack.sql);
    if (live === 0 && !(options.busy?.() ?? false)) break;
    if (Date.now() > options.deadline) throw new Error(`chaos: ${live} messages still live after the deadline`);
    const waitMs = nextDue === null ? 200 : nextDue.getTime() - Date.now();
    if (waitMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs + 20, LEASE_SECONDS * 1_000 + 500)));
      continue;
    }
    rounds++;
    const runs = Array.from({ length: options.runs }, (_, i) => {
      const app = chaosApp(
        chaosDb(stack.endpoint, stack.database),
        scriptedJobType({
          record: log.record,
          runner: `round${rounds}.${i}`,
          timeoutMs: options.timeoutMs ?? HANDLER_TIMEOUT_MS,
          maxSleepMs: options.maxSleepMs,
          batch: options.batch,
        }),
        options.queue,
      );
      return drain(app, { queue: CHAOS_QUEUE, remainingTimeMs: () => 30_000, tuning: CHAOS_TUNING });
    });
    summaries.push(...(await Promise.all(runs)));
    await log.flush();
  }
  return { rounds, summaries };
}

export interface ChaosCounts {
  messages: number;
  done: number;
  dead: number;
  dispatches: number;
  /** Dispatches beyond what the script needs: each after a lease expired. */
  redelivered: number;
  /** Messages claimed more often than their script needs: a lease ended without an outcome. */
  leaseExpired: number;
}

/**
 * The invariants, on the final table and the dispatch log. Answers the counts and every
 * violation found (empty when all hold).
 */
export async function checkInvariants(
  stack: Stack,
  messages: readonly ChaosMessage[],
  log: DispatchLog,
): Promise<{ counts: ChaosCounts; violations: string[] }> {
  const [rowList] = await stack.sql.query('SELECT id, status, attempts, last_error, lease_token, finished_at FROM queue_messages WHERE queue = ?', [
    CHAOS_QUEUE,
  ]);
  const rows = new Map(
    (rowList as { id: string; status: string; attempts: number; last_error: string | null; lease_token: string | null; finished_at: Date | null }[]).map(
      (r) => [r.id, r],
    ),
  );
  const byMessage = new Map<string, number[]>();
  for (const d of await log.all()) {
    const attempts = byMessage.get(d.messageId) ?? [];
    attempts.push(d.attempt);
    byMessage.set(d.messageId, attempts);
  }

  const violations: string[] = [];
  const violate = (id: string, what: string) => {
    if (violations.length < 20) violations.push(`${id}: ${what}`);
    else if (violations.length === 20) violations.push('…');
  };
  const counts: ChaosCounts = { messages: messages.length, done: 0, dead: 0, dispatches: 0, redelivered: 0, leaseExpired: 0 };
  for (const message of messages) {
    const row = rows.get(message.id);
    const expected = expectedOutcome(message.script, message.maxAttempts);
    const dispatched = byMessage.get(message.id) ?? [];
    counts.dispatches += dispatched.length;
    if (row === undefined) {
      violate(message.id, 'lost: no row');
      continue;
    }
    if (row.status === 'done') counts.done++;
    if (row.status === 'dead') counts.dead++;
    if (row.status !== 'done' && row.status !== 'dead') violate(message.id, `stuck in ${row.status}`);
    else if (row.status !== expected.status)
      violate(message.id, `ended ${row.status}, its script [${message.script.steps.join(',')}] says ${expected.status} (last error: ${row.last_error})`);
    if (row.finished_at === null) violate(message.id, 'finished without finished_at');
    if (row.status === 'dead') {
      const lastError = row.last_error ?? '';
      if (lastError === '') violate(message.id, 'dead letter without its last error');
      // Attempts can also run out on leases that ended without an outcome (claim replies lost).
      else if (!(expected.error?.test(lastError) ?? false) && !/expired without an outcome/.test(lastError)) {
        violate(message.id, `dead letter's last error "${lastError}" is not its script's (${expected.error})`);
      }
    }
    if (new Set(dispatched).size !== dispatched.length) violate(message.id, `one claim dispatched twice: attempts ${dispatched.join(',')}`);
    if (dispatched.length > row.attempts) violate(message.id, `${dispatched.length} dispatches but only ${row.attempts} claims`);
    if (row.status === 'done' && dispatched.length === 0) violate(message.id, 'done without a dispatch');
    const extra = dispatched.length - expected.dispatches;
    const expiredClaims = row.attempts - expected.dispatches;
    if (expiredClaims > 0) counts.leaseExpired++;
    if (extra > 0) {
      counts.redelivered += extra;
      if (extra > expiredClaims)
        violate(message.id, `dispatched ${extra} more times than its script needs with only ${Math.max(0, expiredClaims)} extra claims`);
    }
  }
  if (rows.size !== messages.length) violations.push(`${rows.size} rows for ${messages.length} messages`);

  const { openTransactions } = stack.server.stats();
  if (openTransactions !== 0) violations.push(`${openTransactions} Data API transactions left open`);
  const [innodb] = await stack.sql.query(
    `SELECT COUNT(*) AS n FROM information_schema.innodb_trx t JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id WHERE p.db = ?`,
    [stack.database],
  );
  const openInnodb = Number((innodb as { n: number }[])[0]!.n);
  // The checker's own connection may hold a read view; anything beyond it is someone else's.
  if (openInnodb > 1) violations.push(`${openInnodb} InnoDB transactions still open on the database`);
  return { counts, violations };
}

export function report(title: string, counts: ChaosCounts, extra: Record<string, number | string>): void {
  const parts = Object.entries({ ...counts, ...extra }).map(([key, value]) => `${key}=${typeof value === 'number' ? value.toLocaleString('en-US') : value}`);
  console.log(`[chaos] ${title}: ${parts.join(' ')}`);
}

export function summaryTotals(summaries: readonly DrainSummary[]): Record<string, number> {
  const total = (pick: (s: DrainSummary) => number) => summaries.reduce((sum, s) => sum + pick(s), 0);
  return {
    runs: summaries.length,
    lostLeases: total((s) => s.lostLeases),
    unsettled: total((s) => s.unsettled),
    released: total((s) => s.released),
    drainErrors: total((s) => s.errors.length),
  };
}

const projectDir = fileURLToPath(new URL('../..', import.meta.url));

export interface DrainChild {
  runner: string;
  process: ChildProcess;
  /** Resolves when the process ends: its summary when it finished, undefined when killed. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; summary: DrainSummary | undefined; output: string }>;
}

/** A drain run in its own process (test/chaos/drainProcess.ts), on the stack's endpoint and database. */
export function spawnDrain(stack: Stack, runner: string, env: Record<string, string> = {}): DrainChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/chaos/drainProcess.ts'], {
    cwd: projectDir,
    env: {
      ...process.env,
      CHAOS_ENDPOINT: stack.endpoint,
      CHAOS_DATABASE: stack.database,
      CHAOS_DATABASE_URL: `${DATABASE_URL}/${stack.database}`,
      CHAOS_RUNNER: runner,
      NODE_NO_WARNINGS: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; summary: DrainSummary | undefined; output: string }>((resolve) => {
    child.once('exit', (code, signal) => {
      const line = output.split('\n').find((l) => l.startsWith('SUMMARY '));
      resolve({ code, signal, summary: line === undefined ? undefined : (JSON.parse(line.slice('SUMMARY '.length)) as DrainSummary), output });
    });
  });
  return { runner, process: child, exited };
}

/** SIGKILLs `child` once it has dispatched `dispatches` messages; answers whether it was killed. */
export async function killAfter(child: DrainChild, log: DispatchLog, dispatches: number): Promise<boolean> {
  let exited = false;
  void child.exited.then(() => (exited = true));
  for (;;) {
    if (exited) return false;
    if ((await log.count(child.runner)) >= dispatches) {
      child.process.kill('SIGKILL');
      return true;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export { waitFor } from '../support/waitFor.js';
