import { defineConfig } from 'vitest/config';
import { auroraSkipReason } from './test/aurora/target.js';

/**
 * `npm run test:aurora`: the integration tests against a real Aurora cluster, through the real
 * SDK and the Data API (DB_CLUSTER_ARN, DB_SECRET_ARN, DB_NAME, and AWS credentials as for the
 * CLI). Without those variables every test is skipped and the run says so in one line.
 */
const skipped = auroraSkipReason(process.env);
if (skipped !== undefined) console.log(`test:aurora: skipped: ${skipped}`);

export default defineConfig({
  test: {
    include: ['test/aurora/**/*.test.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true' },
    // One file at a time: each talks to the same cluster, and a paused cluster resumes once.
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    // A cluster resuming from auto-pause takes up to about 15 s before the first statement runs.
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
