/**
 * A config like the shipped queue.config.ts, with the built-in types read from the given
 * environment (as the real file reads process.env), so product tests do not depend on the team's file.
 */
import { defineConfig } from '../../lib/config.js';
import { sms, webhook } from '../../lib/jobs/index.js';

export function configFor(env: NodeJS.ProcessEnv) {
  return defineConfig({
    queues: [
      { name: 'default' },
      { name: 'sms', ratePerSecond: 50 },
      { name: 'webhooks', concurrency: 10, backoff: { baseMs: 5_000, maxMs: 3_600_000 } },
      { name: 'orders', ratePerSecond: 200 },
    ],
    jobTypes: [webhook({ env }), sms({ env })],
  });
}

export const testConfig = configFor({});
