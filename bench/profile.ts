/**
 * One scenario of the benchmark, alone, for profiling: where a figure's time goes.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/profile.ts e1 [messages]
 *   node --import tsx bench/profile.ts d1 [messages] [--runs=4] [--latency=20] [--timeout=1000] [--profile-server=/tmp/prof-server]
 *
 * e1: single-message enqueues through the handler, 16 in flight. d1: drain runs over due
 * messages, printing each kind of statement's round trips. `--profile-server` starts the local
 * Data API server with --cpu-prof (the profile is written when it stops).
 */
import { parseArgs } from 'node:util';
import { BENCH_QUEUE, benchApp } from './lib/benchApp.js';
import { startDataApiProcess } from './lib/dataApiProcess.js';
import { createBenchDatabase, dataApiDb, DATABASE_URL, dropAllBenchDatabases, migrateBenchDatabase, rawPool, resetQueueTables } from './lib/database.js';
import { seedDueMessages } from './lib/seed.js';
import { drainRuns } from './scenarios/drain.js';
import { enqueueThroughHandler } from './scenarios/enqueue.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string' }, latency: { type: 'string' }, timeout: { type: 'string' }, 'profile-server': { type: 'string' } },
});
const scenario = positionals[0] ?? 'd1';
if (scenario !== 'e1' && scenario !== 'd1') throw new Error('scenario must be e1 or d1');
const count = Number(positionals[1] ?? (scenario === 'e1' ? 5_000 : 20_000));
const profileDir = values['profile-server'];

const database = await createBenchDatabase();
const server = await startDataApiProcess({ databaseUrl: DATABASE_URL, nodeArgs: profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] });
const pool = rawPool(database);
try {
  await migrateBenchDatabase(server.url, database);
  if (scenario === 'e1') {
    const app = benchApp(dataApiDb(server.url, database));
    await enqueueThroughHandler(app, 200, 1, 16);
    console.log(await enqueueThroughHandler(app, count, 1, 16));
  } else {
    await resetQueueTables(pool);
    const ids = await seedDueMessages(pool, BENCH_QUEUE, count);
    if (values.latency !== undefined) await server.setLatency(Number(values.latency));
    const tuning = values.timeout === undefined ? undefined : { defaultTimeoutMs: Number(values.timeout) };
    const { summaries, ...result } = await drainRuns({ newDb: () => dataApiDb(server.url, database), pool, ids, runs: Number(values.runs ?? 1), tuning });
    console.log(result);
    console.log(summaries.map(({ queues: _queues, ...rest }) => rest));
  }
} finally {
  await pool.end();
  await server.close();
  await dropAllBenchDatabases();
}
