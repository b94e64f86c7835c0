/**
 * One scenario of the benchmark, alone, for profiling: where a figure's time goes.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts e1 [messages]
 *   node --import tsx bench/profile.ts d1 [messages] [--runs=4] [--latency=20] [--timeout=1000] [--profile-server=/tmp/prof-server]
 *   node --import tsx bench/profile.ts webhook [messages] [--runs=2] [--no-network]
 *   node --import tsx bench/profile.ts sql [messages] [--runs=3]
 *
 * e1: single-message enqueues through the handler, 16 in flight. d1: drain runs over due
 * messages, printing each kind of statement's round trips. webhook: the delivery section's
 * webhook drain (50 at once) to the 204 receiver in its own process, or with `--no-network` to a
 * transport that does no I/O; a warm-up run is not counted. sql: MariaDB's CPU per message for each
 * of the product's statements (claim, read, ack) and the plain shape's (claim, finish), each kind
 * alone over mysql2 (scenarios/statementCpu.ts). `--profile-server` starts the local
 * Data API server with --cpu-prof (the profile is written when it stops).
 */
import { parseArgs } from 'node:util';
import { BENCH_QUEUE, benchApp } from './lib/benchApp.js';
import { findMariadbPid } from './lib/cpu.js';
import { startDataApiProcess } from './lib/dataApiProcess.js';
import { createBenchDatabase, dataApiDb, DATABASE_URL, dropAllBenchDatabases, migrateBenchDatabase, rawPool, resetQueueTables } from './lib/database.js';
import { startReceiverProcess, type Receiver } from './lib/receiverProcess.js';
import { seedDueMessages } from './lib/seed.js';
import { noNetwork, webhookDrain } from './scenarios/delivery.js';
import { drainRuns } from './scenarios/drain.js';
import { enqueueThroughHandler } from './scenarios/enqueue.js';
import { statementCpu } from './scenarios/statementCpu.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string' },
    latency: { type: 'string' },
    timeout: { type: 'string' },
    'profile-server': { type: 'string' },
    'no-network': { type: 'boolean' },
  },
});
const scenario = positionals[0] ?? 'd1';
if (scenario !== 'e1' && scenario !== 'd1' && scenario !== 'webhook' && scenario !== 'sql') throw new Error('scenario must be e1, d1, webhook or sql');
const count = Number(positionals[1] ?? (scenario === 'e1' ? 5_000 : scenario === 'webhook' ? 10_000 : 20_000));
const profileDir = values['profile-server'];

const database = await createBenchDatabase();
const server = await startDataApiProcess({
  databaseUrl: DATABASE_URL,
  nodeArgs: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
});
const pool = rawPool(database);
let receiver: Receiver | undefined;
try {
  await migrateBenchDatabase(server.url, database);
  if (scenario === 'e1') {
    const app = benchApp(dataApiDb(server.url, database));
    await enqueueThroughHandler(app, 200, 1, 16);
    console.log(await enqueueThroughHandler(app, count, 1, 16));
  } else if (scenario === 'sql') {
    const mariadbPid = findMariadbPid();
    if (mariadbPid === undefined) throw new Error('sql: no MariaDB process found to measure');
    for (let i = 0; i < Number(values.runs ?? 3); i++) console.log(await statementCpu({ pool, mariadbPid, queue: BENCH_QUEUE, count, batch: 100 }));
  } else if (scenario === 'webhook') {
    receiver = await startReceiverProcess();
    const transport = values['no-network'] ? noNetwork : undefined;
    const receiving = receiver;
    const run = (messages: number, otherPids?: Record<string, number | undefined>) =>
      webhookDrain({ db: dataApiDb(server.url, database), pool, receiver: receiving, count: messages, inFlight: 50, transport, otherPids });
    await run(500);
    for (let i = 0; i < Number(values.runs ?? 1); i++) {
      // CLOCK_MONOTONIC in µs, as a .cpuprofile's sample times: cuts a profile to the measured runs.
      const from = process.hrtime.bigint() / 1_000n;
      const result = await run(count, { server: server.pid, receiver: receiving.pid, mariadb: findMariadbPid() });
      console.log({ ...result, window: `${from}-${process.hrtime.bigint() / 1_000n}` });
    }
  } else {
    await resetQueueTables(pool);
    const ids = await seedDueMessages(pool, BENCH_QUEUE, count);
    if (values.latency !== undefined) await server.setLatency(Number(values.latency));
    const tuning = values.timeout === undefined ? undefined : { defaultTimeoutMs: Number(values.timeout) };
    const cpu = process.cpuUsage();
    const from = process.hrtime.bigint() / 1_000n;
    const { summaries, ...result } = await drainRuns({ newDb: () => dataApiDb(server.url, database), pool, ids, runs: Number(values.runs ?? 1), tuning });
    const { user, system } = process.cpuUsage(cpu);
    console.log({
      ...result,
      clientCpuUsPerMessage: (user + system) / result.messages,
      clientSystemUsPerMessage: system / result.messages,
      window: `${from}-${process.hrtime.bigint() / 1_000n}`,
    });
    console.log(summaries.map(({ queues: _queues, ...rest }) => rest));
  }
} finally {
  await pool.end();
  await receiver?.close();
  await server.close();
  await dropAllBenchDatabases();
}
