/**
 * `npm start`: the whole product on this machine. MariaDB (started if it can be) → the local Data
 * API server → migrations → a fake SMS provider → the local EventBridge Scheduler (timed wakes:
 * its one-time schedules invoke the drain at their time) → `serverless offline` (the HTTP API, the
 * Lambda invoke endpoint, the drain on its schedule). Ctrl-C stops everything it started.
 *
 * Environment (all optional): DATABASE_URL (mysql://root@127.0.0.1:3306), DB_NAME (aurora_queue),
 * LOCAL_DATA_API_PORT (8087), HTTP_PORT (3000), LAMBDA_PORT (3002), WEBSOCKET_PORT / ALB_PORT
 * (serverless offline's own defaults, 3001 / 3003), SMS_PROVIDER_URL (a real or other provider;
 * default: a fake one on FAKE_SMS_PORT, failing FAKE_SMS_FAILURE_RATE and throttling
 * FAKE_SMS_THROTTLE_RATE of calls, both 0 by default), LOCAL_SCHEDULER_PORT (the local Scheduler;
 * default any free port), DRAIN_SCHEDULE (serverless.yml's drainSchedule, e.g. "rate(5 minutes)"),
 * DASHBOARD_PORT (4000: the dashboard, as `aurora-queue dashboard` serves it).
 */
import type { RDSDataClient } from '@aws-sdk/client-rds-data';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createDataApiClient, createDb, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../lib/db/index.js';
import { startFakeSmsProvider, type FakeSmsProvider } from '../dev/fakeSmsProvider.js';
import { DEFAULT_DASHBOARD_PORT, startDashboard, type Dashboard } from '../cli/dashboard/server.js';
import { CliError } from '../cli/errors.js';
import { resolveTarget } from '../cli/target.js';
import { createApp } from '../lib/app.js';
import config from '../queue.config.js';
import { createDatabase } from '../lib/sql/databases.js';
import { DEFAULT_DATABASE_URL, ensureMariaDb, type RunningMariaDb } from '../dev/mariadb.js';
import { checkPortFree, portFromEnv } from '../dev/ports.js';
import { spawnProcessGroup, type ProcessGroup } from '../dev/processGroup.js';
import { startLocalDataApi, type LocalDataApi } from '../dev/data-api/server.js';
import { lambdaTargetInvoker } from '../dev/scheduler/lambdaTarget.js';
import { startLocalScheduler, type LocalScheduler } from '../dev/scheduler/server.js';
import { migrate } from '../lib/migrate.js';
import { clearAllWakes } from '../lib/sql/wakeAt.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVERLESS_BIN = fileURLToPath(new URL('../node_modules/serverless/bin/serverless.js', import.meta.url));
const READY_TIMEOUT_MS = 180_000;
const STAGE = 'local';
/** The local stack's account in the ARNs it makes up (the functions never call AWS). */
const LOCAL_ACCOUNT = '000000000000';

// The SDK's note about Node 20 support ending in 2027 would open every start; engines says what is needed.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

interface Running {
  mariadb?: RunningMariaDb;
  dataApi?: LocalDataApi;
  sms?: FakeSmsProvider;
  scheduler?: LocalScheduler;
  offline?: ProcessGroup;
  dashboard?: Dashboard & { client: RDSDataClient };
}

const running: Running = {};
let shuttingDown: Promise<void> | undefined;

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const env = process.env;
  const databaseUrl = env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
  const database = env.DB_NAME?.trim() || 'aurora_queue';
  const dataApiPort = portFromEnv(env, 'LOCAL_DATA_API_PORT', 8087);
  const httpPort = portFromEnv(env, 'HTTP_PORT', 3000);
  const lambdaPort = portFromEnv(env, 'LAMBDA_PORT', 3002);
  const dashboardPort = portFromEnv(env, 'DASHBOARD_PORT', DEFAULT_DASHBOARD_PORT);
  const schedulerPort = portFromEnv(env, 'LOCAL_SCHEDULER_PORT', 0);
  const region = env.AWS_REGION?.trim() || 'us-east-1';

  running.mariadb = await ensureMariaDb({ databaseUrl, log });
  log(`MariaDB ${running.mariadb.version} at ${new URL(databaseUrl).host}`);

  running.dataApi = await startLocalDataApi({ host: '127.0.0.1', port: dataApiPort, databaseUrl }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EADDRINUSE' ? portInUse(dataApiPort, 'LOCAL_DATA_API_PORT', 'the local Data API (`npm run data-api`?)') : error;
  });
  const dataApiUrl = running.dataApi.url;

  const client = createDataApiClient({ endpoint: dataApiUrl });
  try {
    const db = (name: string | undefined) =>
      createDb({ endpoint: dataApiUrl, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: name, client });
    await createDatabase(db(undefined), database);
    const result = await migrate(db(database), { log: (line) => log(`migrate: ${line}`) });
    log(
      `database ${database}: ${result.applied.length > 0 ? `applied ${result.applied.join(', ')}` : `up to date (${result.skipped.length} migration${result.skipped.length === 1 ? '' : 's'})`}`,
    );
    // The local Scheduler starts empty: wakes an earlier run left pending have no schedule now.
    await clearAllWakes(db(database));
  } finally {
    client.destroy();
  }

  let smsProviderUrl = env.SMS_PROVIDER_URL?.trim() || undefined;
  if (smsProviderUrl === undefined) {
    running.sms = await startFakeSmsProvider({
      port: portFromEnv(env, 'FAKE_SMS_PORT', 0),
      failureRate: rate(env, 'FAKE_SMS_FAILURE_RATE'),
      throttleRate: rate(env, 'FAKE_SMS_THROTTLE_RATE'),
    });
    smsProviderUrl = running.sms.url;
  }

  // EventBridge Scheduler's part (serverless offline has none): the functions set timed wakes on it
  // through the same code as in AWS, and each wake invokes the drain on serverless offline's endpoint.
  running.scheduler = await startLocalScheduler({
    port: schedulerPort,
    region,
    accountId: LOCAL_ACCOUNT,
    invoke: lambdaTargetInvoker({ endpoint: `http://127.0.0.1:${lambdaPort}`, region }),
    // As AWS does: anywhere within the minute of a schedule's time (LOCAL_SCHEDULER_EXACT=1: on the second).
    firingDelayMs: env.LOCAL_SCHEDULER_EXACT === '1' ? () => 0 : () => Math.floor(Math.random() * 60_000),
    log: (line) => log(`scheduler | ${line}`),
  }).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'EADDRINUSE' ? portInUse(schedulerPort, 'LOCAL_SCHEDULER_PORT', 'the local Scheduler') : error;
  });
  const schedulerUrl = running.scheduler.url;
  const drainArn = `arn:aws:lambda:${region}:${LOCAL_ACCOUNT}:function:aurora-queue-${STAGE}-drain`;

  for (const [port, name, what] of [
    [httpPort, 'HTTP_PORT', 'the HTTP API'],
    [lambdaPort, 'LAMBDA_PORT', 'the Lambda invoke endpoint'],
    [dashboardPort, 'DASHBOARD_PORT', 'the dashboard (`aurora-queue dashboard`?)'],
  ] as const) {
    await checkPortFree(port).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EADDRINUSE' ? portInUse(port, name, `${what} (another \`npm start\` or \`serverless offline\`?)`) : error;
    });
  }

  // The dashboard, as `aurora-queue dashboard` serves it, with this stack's queue limits.
  const dashboardClient = createDataApiClient({ endpoint: dataApiUrl });
  const dashboardApp = createApp({
    config,
    env,
    db: createDb({ endpoint: dataApiUrl, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database, client: dashboardClient }),
  });
  const target = resolveTarget({ DATA_API_ENDPOINT: dataApiUrl, DB_NAME: database });
  running.dashboard = {
    ...(await startDashboard({ app: dashboardApp, port: dashboardPort, target: target.description }).catch((error: unknown) => {
      dashboardClient.destroy();
      throw error;
    })),
    client: dashboardClient,
  };

  log('starting serverless offline (esbuild bundles the handlers first; this takes a few seconds)');
  const args = [
    SERVERLESS_BIN,
    'offline',
    'start',
    '--stage',
    STAGE,
    '--host',
    '127.0.0.1',
    '--httpPort',
    String(httpPort),
    '--lambdaPort',
    String(lambdaPort),
    // The Lambdas get this process's environment (SMS_PROVIDER_URL, WEBHOOK_*, DRAIN_* ...).
    '--localEnvironment',
    `--param=dataApiEndpoint=${dataApiUrl}`,
    `--param=dbName=${database}`,
    // Enqueues wake the drain through serverless offline's own Lambda endpoint.
    `--param=lambdaEndpoint=http://127.0.0.1:${lambdaPort}`,
  ];
  if (env.WEBSOCKET_PORT) args.push('--websocketPort', String(portFromEnv(env, 'WEBSOCKET_PORT', 3001)));
  if (env.ALB_PORT) args.push('--albPort', String(portFromEnv(env, 'ALB_PORT', 3003)));
  if (env.DRAIN_SCHEDULE) args.push(`--param=drainSchedule=${env.DRAIN_SCHEDULE}`);

  const offlineEnv: NodeJS.ProcessEnv = {
    ...env,
    // The local stack never talks to AWS: dummy credentials, no profile, no instance metadata.
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: region,
    AWS_EC2_METADATA_DISABLED: 'true',
    SLS_TELEMETRY_DISABLED: '1',
    SLS_NOTIFICATIONS_MODE: 'off',
    SMS_PROVIDER_URL: smsProviderUrl,
    WEBHOOK_ALLOW_PRIVATE_ADDRESSES: env.WEBHOOK_ALLOW_PRIVATE_ADDRESSES || 'true',
    // Timed wakes (lib/wakeScheduler.ts) on the local Scheduler: serverless.yml's local stage reads these.
    WAKE_SCHEDULER_ENDPOINT: schedulerUrl,
    WAKE_SCHEDULE_GROUP: `aurora-queue-${STAGE}`,
    WAKE_SCHEDULE_PREFIX: '',
    WAKE_TARGET_ARN: drainArn,
    WAKE_ROLE_ARN: `arn:aws:iam::${LOCAL_ACCOUNT}:role/aurora-queue-${STAGE}-wake-scheduler`,
    FORCE_COLOR: '0',
  };
  for (const name of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ROLE_ARN']) delete offlineEnv[name];

  const offline = spawnProcessGroup('serverless offline', process.execPath, args, { cwd: ROOT, env: offlineEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.offline = offline;
  await waitUntilReady(offline);

  const http = `http://127.0.0.1:${httpPort}`;
  const lambda = `http://127.0.0.1:${lambdaPort}`;
  const cliEnv = [
    ...(dataApiUrl !== 'http://127.0.0.1:8087' ? [`DATA_API_ENDPOINT=${dataApiUrl}`] : []),
    ...(database !== 'aurora_queue' ? [`DB_NAME=${database}`] : []),
    ...(lambdaPort !== 3002 ? [`LAMBDA_ENDPOINT=${lambda}`] : []),
  ].join(' ');
  const body = JSON.stringify({ type: 'sms.send', payload: { to: '+15551234567', body: 'Hello from aurora-queue' } });
  log(
    [
      '',
      'aurora-queue is up (stage local)',
      `  HTTP API            ${http}`,
      `  Lambda invoke       ${lambda}  (functions aurora-queue-${STAGE}-<name>)`,
      `  local Data API      ${dataApiUrl}  (MariaDB ${new URL(databaseUrl).host}, database ${database})`,
      `  SMS provider        ${smsProviderUrl}${running.sms ? '  (fake)' : ''}`,
      `  Scheduler           ${schedulerUrl}  (timed wakes: one-time schedules that invoke the drain)`,
      `  drain               on enqueue, on timed wakes, and on its schedule (${env.DRAIN_SCHEDULE || "serverless.yml's drainSchedule"})`,
      `  dashboard           ${running.dashboard.url}`,
      '',
      'Enqueue a message:',
      `  curl -s -X POST ${http}/queues/sms/messages -H 'content-type: application/json' -d '${body}'`,
      'Follow it (the id from the answer):',
      `  curl -s ${http}/messages/<id>`,
      ...(cliEnv ? ['The CLI, from another terminal (these ports are not its defaults):', `  export ${cliEnv}`] : ['The CLI, from another terminal:']),
      '  npx aurora-queue status <id>',
      '  npx aurora-queue drain        # drain now instead of waiting for the schedule',
      '  npx aurora-queue stats',
      '',
      'Ctrl-C stops everything started here.',
      '',
    ].join('\n'),
  );

  // From here on serverless offline's own output (requests, Lambda logs) is passed through.
  const code = await offline.exited;
  if (!shuttingDown) throw new CliError(`serverless offline exited on its own (${code})`);
}

/** Resolves on serverless offline's "Server ready"; rejects with its output if it exits or stalls. */
function waitUntilReady(offline: ProcessGroup): Promise<void> {
  const lines: string[] = [];
  let ready = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new CliError(`serverless offline was not ready after ${READY_TIMEOUT_MS / 1000} s:\n${lines.slice(-30).join('\n')}`)),
      READY_TIMEOUT_MS,
    );
    const onLine = (line: string) => {
      if (ready) {
        if (line.trim() !== '') log(`offline | ${line}`);
        return;
      }
      lines.push(line);
      if (/Server ready:/.test(line)) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: offline.child.stdout! }).on('line', onLine);
    createInterface({ input: offline.child.stderr! }).on('line', onLine);
    void offline.exited.then((code) => {
      clearTimeout(timer);
      if (!ready) reject(new CliError(`serverless offline exited (${code}) before it was ready:\n${lines.slice(-30).join('\n')}`));
    });
  });
}

function portInUse(port: number, variable: string, what: string): CliError {
  return new CliError(`port ${port} is in use; it is for ${what}. Stop what holds it, or choose another port with ${variable}=<port>.`);
}

function rate(env: NodeJS.ProcessEnv, name: string): number {
  const raw = env[name]?.trim();
  if (!raw) return 0;
  const value = Number(raw);
  if (!(value >= 0 && value <= 1)) throw new CliError(`${name} must be a share of calls from 0 to 1, got "${raw}"`);
  return value;
}

/** Stops what was started, newest first: nothing of it outlives this process. */
function shutdown(): Promise<void> {
  shuttingDown ??= (async () => {
    const stopped: string[] = [];
    const step = async (name: string, stop: (() => Promise<void>) | undefined) => {
      if (stop === undefined) return;
      try {
        await stop();
        stopped.push(name);
      } catch (error) {
        process.stderr.write(`could not stop ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    };
    await step('dashboard', running.dashboard && (() => running.dashboard!.close().finally(() => running.dashboard!.client.destroy())));
    await step('serverless offline', running.offline && (() => running.offline!.stop({ signal: 'SIGINT', graceMs: 5_000 })));
    await step('local Scheduler', running.scheduler && (() => running.scheduler!.close()));
    await step('fake SMS provider', running.sms && (() => running.sms!.close()));
    await step('local Data API', running.dataApi && (() => running.dataApi!.close()));
    await step('MariaDB', running.mariadb?.started && (() => running.mariadb!.started!.stop({ signal: 'SIGTERM', graceMs: 30_000 })));
    if (stopped.length > 0) log(`stopped ${stopped.join(', ')}`);
  })();
  return shuttingDown;
}

/**
 * One Ctrl-C can arrive twice: from the terminal, and forwarded by `npm run` when the shell execs
 * this process. A repeat within a second is that echo; a later one means "stop waiting".
 */
let firstSignalAt: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (firstSignalAt !== undefined) {
      if (Date.now() - firstSignalAt < 1_000) return;
      // A second Ctrl-C: no more waiting, but still nothing left behind.
      if (running.offline?.child.pid) {
        try {
          process.kill(-running.offline.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      process.exit(130);
    }
    firstSignalAt = Date.now();
    log(`\n${signal}: stopping`);
    void shutdown().then(() => process.exit(0));
  });
}

main().catch(async (error: unknown) => {
  if (shuttingDown) return;
  process.stderr.write(`npm start: ${error instanceof CliError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  await shutdown();
  process.exit(1);
});
