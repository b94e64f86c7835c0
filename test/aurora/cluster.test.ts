/**
 * Against a real cluster (`npm run test:aurora`; skipped without DB_CLUSTER_ARN, DB_SECRET_ARN and
 * DB_NAME): what the local stack cannot tell. doctor --full runs every kind of statement the
 * product runs and checks each answer; then a message goes the whole way, enqueue → drain →
 * status, on a scratch queue through the real SDK. Both remove what they wrote.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { runCli } from '../../cli/main.js';
import { createApp } from '../../lib/app.js';
import { defineConfig } from '../../lib/config.js';
import { createDb, dbConfigFromEnv } from '../../lib/db/index.js';
import type { DoctorCheck } from '../../lib/doctor.js';
import { drain } from '../../lib/drain/drain.js';
import { enqueue } from '../../lib/enqueue.js';
import { defineJobType } from '../../lib/jobs/types.js';
import { getMessageStatus } from '../../lib/messages.js';
import { countScratchRows, deleteScratchRows } from '../../lib/sql/doctor.js';
import teamConfig from '../../queue.config.js';
import { auroraEnv, auroraSkipReason } from './target.js';

const skipped = auroraSkipReason(process.env);

describe.skipIf(skipped !== undefined)(`the cluster in DB_CLUSTER_ARN${skipped === undefined ? '' : ` (skipped: ${skipped})`}`, () => {
  const env = auroraEnv();

  it('passes doctor --full: every kind of statement the product runs, answered as the product expects, nothing left behind', async () => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(['doctor', '--full', '--json'], {
      config: teamConfig,
      env,
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
    });
    const checks = JSON.parse(stdout) as DoctorCheck[];
    // Printed whole, so a run's log is the cluster's report (the README says what each failure means).
    console.log(checks.map((c) => `${c.result.padEnd(4)} ${c.name}: ${c.detail}`).join('\n'));
    expect(checks.filter((c) => c.result === 'fail')).toEqual([]);
    expect(checks.find((c) => c.name === 'scratch rows removed')).toMatchObject({ result: 'pass' });
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('enqueues, drains and reports the status of messages on a scratch queue', async () => {
    const queue = `aurora-test-${randomBytes(6).toString('hex')}`;
    const delivered: unknown[] = [];
    const probe = defineJobType({
      type: 'aurora.test',
      payload: z.strictObject({ n: z.number().int(), text: z.string() }),
      handle: async (payload) => void delivered.push(payload),
    });
    const db = createDb({ ...dbConfigFromEnv(env), region: env.AWS_REGION });
    // No drain function in this environment: the enqueue wakes nothing; the drain below runs here.
    const app = createApp({ config: defineConfig({ queues: [{ name: queue }], jobTypes: [probe] }), db, env: {} });
    const payloads = [
      { n: 1, text: 'plain' },
      { n: 2, text: 'é 日本 😀 "quoted" \\ backslash' },
      { n: 3, text: 'x'.repeat(70_000) },
    ];
    try {
      const answers = await enqueue(
        app,
        queue,
        payloads.map((payload) => ({ type: 'aurora.test' as const, payload })),
      );
      const summary = await drain(app, { queue, maxMessages: payloads.length, remainingTimeMs: () => 60_000 });
      expect(summary.errors).toEqual([]);
      expect(summary.claimed).toBe(payloads.length);
      const statuses = await Promise.all(answers.map((answer) => getMessageStatus(app, answer.id)));
      expect(statuses.map((status) => [status.status, status.attempts])).toEqual(payloads.map(() => ['done', 1]));
      expect([...delivered].sort((a, b) => (a as { n: number }).n - (b as { n: number }).n)).toEqual(payloads);
    } finally {
      await deleteScratchRows(db, [queue]);
    }
    expect(Object.values(await countScratchRows(db, { queues: [queue], messageIds: [] })).every((n) => n === 0)).toBe(true);
  });
});
