/**
 * One drain run in its own process, for the chaos suite to SIGKILL or freeze: the drain as the
 * Lambda runs it, on the Data API endpoint and database given by the environment, with the
 * scripted handler. Every dispatch is written to `chaos_dispatches` (awaited, autocommit) before
 * the handler runs, so a kill can lose an outcome but not hide a dispatch.
 *
 * CHAOS_ENDPOINT, CHAOS_DATABASE, CHAOS_DATABASE_URL (mysql2, for the dispatch log), CHAOS_RUNNER,
 * CHAOS_STALL_MS (how long a `stall` step blocks), CHAOS_MAX_SLEEP_MS, CHAOS_MAX_MESSAGES (the run's
 * maxMessages), CHAOS_QUEUE_SETTINGS (JSON: the queue's settings changed, see chaosQueue),
 * CHAOS_LINGER_MS (a woken run that lingers this long on a dry queue; default: none),
 * CHAOS_BATCH_SIZE (the scripted type as a batch type of this maxSize; default: one at a time),
 * CHAOS_TIMEOUT_MS (the handler's timeout; default HANDLER_TIMEOUT_MS). Prints
 * `SUMMARY <json>`.
 */
import mysql from 'mysql2/promise';
import { drain } from '../../lib/drain/index.js';
import { CHAOS_QUEUE, CHAOS_TUNING, HANDLER_TIMEOUT_MS, chaosApp, chaosDb, chaosQueue } from './harness.js';
import { scriptedJobType } from './scripts.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};

const runner = env('CHAOS_RUNNER');
const log = mysql.createPool({ uri: env('CHAOS_DATABASE_URL'), connectionLimit: 4 });
const jobType = scriptedJobType({
  runner,
  timeoutMs: Number(process.env.CHAOS_TIMEOUT_MS ?? HANDLER_TIMEOUT_MS),
  stallMs: Number(process.env.CHAOS_STALL_MS ?? 6_000),
  maxSleepMs: Number(process.env.CHAOS_MAX_SLEEP_MS ?? 10),
  batch: process.env.CHAOS_BATCH_SIZE === undefined ? undefined : { maxSize: Number(process.env.CHAOS_BATCH_SIZE) },
  record: async (d) => {
    await log.query('INSERT INTO chaos_dispatches (message_id, attempt, runner, started_ms) VALUES (?, ?, ?, ?)', [
      d.messageId,
      d.attempt,
      d.runner,
      d.startedMs ?? null,
    ]);
  },
  recordEnd: async (d) => {
    await log.query('UPDATE chaos_dispatches SET ended_ms = ? WHERE message_id = ? AND attempt = ? AND runner = ?', [
      d.endedMs ?? null,
      d.messageId,
      d.attempt,
      d.runner,
    ]);
  },
});

const settings = process.env.CHAOS_QUEUE_SETTINGS === undefined ? {} : JSON.parse(process.env.CHAOS_QUEUE_SETTINGS);
const app = chaosApp(chaosDb(env('CHAOS_ENDPOINT'), env('CHAOS_DATABASE')), jobType, chaosQueue(settings));
const maxMessages = process.env.CHAOS_MAX_MESSAGES === undefined ? undefined : Number(process.env.CHAOS_MAX_MESSAGES);
const lingerMs = process.env.CHAOS_LINGER_MS === undefined ? undefined : Number(process.env.CHAOS_LINGER_MS);
const linger = lingerMs === undefined ? {} : { linger: { idleMs: lingerMs, woken: true } };
const summary = await drain(app, { queue: CHAOS_QUEUE, maxMessages, remainingTimeMs: () => 30_000, tuning: CHAOS_TUNING, ...linger });
console.log(`SUMMARY ${JSON.stringify(summary)}`);
await log.end();
// Handlers left hanging (the `hang` step) would keep the process alive.
process.exit(0);
