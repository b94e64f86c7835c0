/**
 * `npm run demo`: the seed use case end to end. 10,000 texts are enqueued in batches to the `sms`
 * queue, a fake SMS provider on 127.0.0.1 fails ~10% of calls and throttles ~5% with Retry-After,
 * and the drainer is invoked run after run (rather than once a minute) until every message is
 * done or dead. A live progress line, then a summary table.
 *
 * Everything runs in this process on the real stack (the SDK → the local Data API server →
 * MariaDB, in a database of its own that is dropped at the end unless --keep), so nothing is left
 * behind, also on errors and Ctrl-C.
 *
 * The demo's `sms` queue differs from the declared one in two ways, so the run takes seconds:
 * backoff 50 ms doubling to at most 1 s (instead of 1 s to 15 min), and no rate limit (the fake
 * provider's throttling stands in for one). --max-attempts (default 3) decides how many die.
 */
import { parseArgs } from 'node:util';
import { createApp } from '../lib/app.js';
import { defineConfig } from '../lib/config.js';
import { CliError } from '../cli/errors.js';
import { createDatabase, dropDatabase } from '../lib/sql/databases.js';
import { formatCount, formatDuration, formatTable } from '../cli/format.js';
import { DEFAULT_DATABASE_URL, ensureMariaDb, type RunningMariaDb } from '../dev/mariadb.js';
import { ProgressReporter, type ProgressSnapshot } from '../cli/progress.js';
import { createDataApiClient, createDb, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../lib/db/index.js';
import { startFakeSmsProvider, type FakeSmsProvider } from '../dev/fakeSmsProvider.js';
import { drain, type DrainSummary } from '../lib/drain/index.js';
import { enqueue, type MessageFor } from '../lib/enqueue.js';
import type { sms } from '../lib/jobs/sms.js';

type SmsJobType = ReturnType<typeof sms>;
import { startLocalDataApi, type LocalDataApi } from '../dev/data-api/server.js';
import { migrate } from '../lib/migrate.js';
import { queueStats, type QueueStats } from '../lib/sql/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const QUEUE = 'sms';
const DEMO_BACKOFF = { baseMs: 50, factor: 2, maxMs: 1_000 };
/** What one drain run may take, as a Lambda's timeout would allow. */
const RUN_BUDGET_MS = 60_000;

const USAGE = `usage: npm run demo -- [options]
  --messages <n>        texts to send (default 10000)
  --batch <n>           messages per enqueue call, 1-500 (default 500)
  --failure-rate <r>    share of provider calls answered 500 (default 0.1)
  --throttle-rate <r>   share answered 429 with Retry-After (default 0.05)
  --retry-after <s>     the Retry-After seconds (default 1)
  --max-attempts <n>    attempts before a text is dead-lettered (default 3)
  --seed <n>            makes the provider's answers repeatable
  --database <name>     the demo's database (default aurora_queue_demo; recreated, dropped at the end)
  --keep                keep the database afterwards (inspect it with DB_NAME=<name> in a running stack)
  --timeout <s>         give up after this long (default 600)
Environment: DATABASE_URL (default ${DEFAULT_DATABASE_URL}).`;

interface DemoOptions {
  messages: number;
  batch: number;
  failureRate: number;
  throttleRate: number;
  retryAfterSeconds: number;
  maxAttempts: number;
  seed: number | undefined;
  database: string;
  keep: boolean;
  timeoutMs: number;
}

function parseOptions(argv: string[]): DemoOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string' },
      batch: { type: 'string' },
      'failure-rate': { type: 'string' },
      'throttle-rate': { type: 'string' },
      'retry-after': { type: 'string' },
      'max-attempts': { type: 'string' },
      seed: { type: 'string' },
      database: { type: 'string' },
      keep: { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return undefined;
  const number = (name: keyof typeof values, fallback: number, min: number, max: number, integer = true): number => {
    const raw = values[name];
    if (raw === undefined || typeof raw === 'boolean') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new CliError(`--${name} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };
  const options: DemoOptions = {
    messages: number('messages', 10_000, 1, 1_000_000),
    batch: number('batch', 500, 1, 500),
    failureRate: number('failure-rate', 0.1, 0, 1, false),
    throttleRate: number('throttle-rate', 0.05, 0, 1, false),
    retryAfterSeconds: number('retry-after', 1, 0, 60),
    maxAttempts: number('max-attempts', 3, 1, 100),
    seed: values.seed === undefined ? undefined : number('seed', 0, 0, 2 ** 32 - 1),
    database: values.database ?? 'aurora_queue_demo',
    keep: values.keep === true,
    timeoutMs: number('timeout', 600, 1, 86_400) * 1_000,
  };
  if (options.failureRate + options.throttleRate >= 1)
    throw new CliError('--failure-rate plus --throttle-rate must stay below 1, or no text could ever be sent');
  return options;
}

interface Running {
  mariadb?: RunningMariaDb;
  dataApi?: LocalDataApi;
  provider?: FakeSmsProvider;
  reporter?: ProgressReporter;
  /** The database to drop at the end; unset with --keep. */
  dropDatabase?: () => Promise<void>;
  destroyClient?: () => void;
}

const running: Running = {};
const interrupt = new AbortController();
const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(options: DemoOptions): Promise<boolean> {
  const databaseUrl = process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
  running.mariadb = await ensureMariaDb({ databaseUrl, log });
  running.dataApi = await startLocalDataApi({ host: '127.0.0.1', port: 0, databaseUrl });
  const client = createDataApiClient({ endpoint: running.dataApi.url });
  running.destroyClient = () => client.destroy();
  const newDb = (database: string | undefined) =>
    createDb({ endpoint: running.dataApi!.url, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database, client });

  // A fresh database each run, so the counts are this run's alone.
  const admin = newDb(undefined);
  await dropDatabase(admin, options.database);
  await createDatabase(admin, options.database);
  if (!options.keep) running.dropDatabase = () => dropDatabase(admin, options.database);
  await migrate(newDb(options.database));

  running.provider = await startFakeSmsProvider({
    failureRate: options.failureRate,
    throttleRate: options.throttleRate,
    retryAfterSeconds: options.retryAfterSeconds,
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
  });
  // The team's config, read after the fake provider's URL is in the environment; the demo's own
  // limits for its queue (attempts, a short backoff, no rate limit) replace the configured ones.
  process.env.SMS_PROVIDER_URL = running.provider.url;
  const { default: queueConfig } = await import('../queue.config.js');
  const config = defineConfig({
    ...queueConfig,
    queues: [...queueConfig.queues.filter((queue) => queue.name !== QUEUE), { name: QUEUE, maxAttempts: options.maxAttempts, backoff: DEMO_BACKOFF }],
  });
  const app = createApp({ db: newDb(options.database), config });
  log(
    `demo: ${formatCount(options.messages)} texts → fake SMS provider ${running.provider.url} ` +
      `(fails ${percent(options.failureRate)}, throttles ${percent(options.throttleRate)} with Retry-After ${options.retryAfterSeconds} s); ` +
      `database ${options.database} via the local Data API ${running.dataApi.url}`,
  );

  // Enqueue: one Data API call per batch, each stored whole.
  const enqueueStarted = performance.now();
  let enqueued = 0;
  for (let offset = 0; offset < options.messages; offset += options.batch) {
    interrupt.signal.throwIfAborted();
    const count = Math.min(options.batch, options.messages - offset);
    await enqueue(
      app,
      QUEUE,
      Array.from({ length: count }, (_, i) => text(offset + i)),
    );
    enqueued += count;
    if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2Kenqueued ${formatCount(enqueued)}/${formatCount(options.messages)}`);
  }
  const enqueueMs = performance.now() - enqueueStarted;
  const enqueueCalls = app.db.stats.calls;
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[2K');
  const batches = Math.ceil(options.messages / options.batch);
  log(
    `enqueued ${formatCount(enqueued)} texts in ${batches} batch${batches === 1 ? '' : 'es'} of up to ${options.batch} (${formatDuration(enqueueMs)}, ${formatCount(enqueued / (enqueueMs / 1_000))} msg/s)`,
  );

  // Drain: run after run, as a schedule would, only without the minute between them.
  const statsDb = newDb(options.database);
  const drainStarted = performance.now();
  const read = async (): Promise<ProgressSnapshot> => {
    const [stats] = (await queueStats(statsDb, [QUEUE], app.clock.now())) as [QueueStats];
    const seconds = (performance.now() - drainStarted) / 1_000;
    return {
      total: options.messages,
      done: stats.counts.done,
      dead: stats.counts.dead,
      retrying: stats.counts.retrying,
      running: stats.counts.running,
      ratePerSecond: seconds > 0 ? (stats.counts.done + stats.counts.dead) / seconds : 0,
    };
  };
  running.reporter = new ProgressReporter({ output: process.stdout, read });
  running.reporter.start();

  const deadline = Date.now() + options.timeoutMs;
  const runs: DrainSummary[] = [];
  const drainErrors: string[] = [];
  let last = await read();
  while (last.done + last.dead < options.messages) {
    if (Date.now() > deadline) break;
    interrupt.signal.throwIfAborted();
    const runDeadline = Math.min(Date.now() + RUN_BUDGET_MS, deadline);
    // A signal per run, unhooked after it, so runs do not pile listeners onto the Ctrl-C one.
    const run = new AbortController();
    const stopRun = () => run.abort(interrupt.signal.reason);
    interrupt.signal.addEventListener('abort', stopRun, { once: true });
    const summary = await drain(app, {
      queue: QUEUE,
      remainingTimeMs: () => runDeadline - Date.now(),
      signal: run.signal,
      log: { warn: () => {}, error: (message, attributes) => drainErrors.push(`${message} ${JSON.stringify(attributes)}`) },
    }).finally(() => interrupt.signal.removeEventListener('abort', stopRun));
    runs.push(summary);
    drainErrors.push(...summary.errors);
    // Nothing was due: the rest are backing off. Wait a little rather than spin on the database.
    if (summary.claimed === 0) await sleep(50);
    last = await read();
  }
  interrupt.signal.throwIfAborted();
  const drainMs = performance.now() - drainStarted;
  await running.reporter.stop(last);
  running.reporter = undefined;

  const provider = running.provider.stats();
  const total = (key: 'done' | 'retried' | 'dead' | 'claimed' | 'dataApiCalls') => runs.reduce((sum, run) => sum + run[key], 0);
  const finished = last.done + last.dead === options.messages;
  log('');
  log(
    formatTable(
      [{ header: 'summary' }, { header: 'count', align: 'right' }, { header: '' }],
      [
        ['texts', formatCount(options.messages), `enqueued in ${formatDuration(enqueueMs)}`],
        ['done', formatCount(last.done), `${percent(last.done / options.messages)}`],
        ['dead', formatCount(last.dead), `gave up after ${options.maxAttempts} attempt${options.maxAttempts === 1 ? '' : 's'}`],
        ...(finished ? [] : [['unfinished', formatCount(options.messages - last.done - last.dead), `timed out after ${formatDuration(options.timeoutMs)}`]]),
        ['retries', formatCount(total('retried')), `backoff 50 ms doubling to 1 s; Retry-After ${options.retryAfterSeconds} s when throttled`],
        [
          'provider calls',
          formatCount(provider.received),
          `accepted ${formatCount(provider.accepted)}, 500 ${formatCount(provider.failed)}, 429 ${formatCount(provider.throttled)}, sent twice ${formatCount(provider.duplicates)}`,
        ],
        ['drain runs', formatCount(runs.length), `${formatDuration(drainMs)}, ${formatCount((last.done + last.dead) / (drainMs / 1_000))} msg/s`],
        [
          'Data API calls',
          formatCount(enqueueCalls + total('dataApiCalls')),
          `enqueue ${formatCount(enqueueCalls)}, drain ${formatCount(total('dataApiCalls'))}`,
        ],
      ],
    ).trimEnd(),
  );
  if (drainErrors.length > 0) log(`\ndrain errors (${drainErrors.length}):\n  ${drainErrors.slice(0, 10).join('\n  ')}`);
  if (!finished)
    process.stderr.write(
      `demo: ${formatCount(options.messages - last.done - last.dead)} texts were neither done nor dead after ${formatDuration(options.timeoutMs)}\n`,
    );
  return finished;
}

function text(n: number): MessageFor<SmsJobType> {
  return { type: 'sms.send', payload: { to: `+1555${String(n % 10_000_000).padStart(7, '0')}`, body: `Demo text ${n + 1}: your order has shipped.` } };
}

function percent(share: number): string {
  return `${Math.round(share * 1_000) / 10}%`;
}

function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && String((error as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function cleanUp(): Promise<void> {
  const steps: [string, (() => Promise<void> | void) | undefined][] = [
    ['progress', running.reporter && (() => running.reporter!.stop())],
    ['fake SMS provider', running.provider && (() => running.provider!.close())],
    ['demo database', running.dropDatabase],
    ['Data API client', running.destroyClient],
    ['local Data API', running.dataApi && (() => running.dataApi!.close())],
    ['MariaDB', running.mariadb?.started && (() => running.mariadb!.started!.stop({ signal: 'SIGTERM', graceMs: 30_000 }))],
  ];
  for (const [name, step] of steps) {
    if (step === undefined) continue;
    try {
      await step();
    } catch (error) {
      process.stderr.write(`demo: could not stop ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
}

/**
 * The first Ctrl-C stops the drain (its claimed texts are given back) and cleans up; a later one
 * exits at once. A repeat within a second is the same Ctrl-C forwarded by `npm run`, not a second.
 */
let firstSignalAt: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt >= 1_000) process.exit(130);
      return;
    }
    firstSignalAt = Date.now();
    process.stdout.write(`\n${signal}: stopping the demo\n`);
    interrupt.abort(new Error(signal));
  });
}

let exitCode = 0;
try {
  const options = parseOptions(process.argv.slice(2));
  if (options === undefined) log(USAGE);
  else exitCode = (await main(options)) ? 0 : 1;
} catch (error) {
  if (interrupt.signal.aborted) exitCode = 130;
  else {
    exitCode = 1;
    process.stderr.write(
      `demo: ${error instanceof CliError || isParseArgsError(error) ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  }
} finally {
  await cleanUp();
}
// Nothing started here is left to keep the process alive; exitCode lets it end on its own.
process.exitCode = exitCode;
