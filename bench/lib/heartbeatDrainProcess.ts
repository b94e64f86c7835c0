/**
 * One drain run of the heartbeat section in its own process, for the bench to SIGKILL mid-handler
 * (scenarios/heartbeat.ts): the drain as the Lambda runs it, over the Data API endpoint and
 * database given by BENCH_ENDPOINT and BENCH_DATABASE, at the scale in BENCH_HEARTBEAT_SCALE
 * (JSON). Prints `STARTED <attempt>` as a handler starts (stdout is a pipe: written at once) and
 * `SUMMARY <json>` if the run ends.
 */
import { drain } from '../../lib/drain/drain.js';
import { dataApiDb } from './database.js';
import { HEARTBEAT_QUEUE, heartbeatApp, heartbeatTuning, type HeartbeatScale } from './heartbeatApp.js';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is not set`);
  return value;
};

const scale = JSON.parse(env('BENCH_HEARTBEAT_SCALE')) as HeartbeatScale;
const app = heartbeatApp(dataApiDb(env('BENCH_ENDPOINT'), env('BENCH_DATABASE')), scale, (context) => {
  process.stdout.write(`STARTED ${context.attempt}\n`);
});
const summary = await drain(app, { queue: HEARTBEAT_QUEUE, remainingTimeMs: () => 600_000, tuning: heartbeatTuning(scale) });
const { queues: _queues, ...counts } = summary;
process.stdout.write(`SUMMARY ${JSON.stringify(counts)}\n`);
process.exit(0);
