import { defineConfig } from 'vitest/config';

/**
 * `npm run test:chaos`: the chaos suite, apart from `npm test` because it is slow (minutes) and
 * loads the machine. Files run one after another: each starts several drain runs or processes
 * of its own, and two at once would only make them slower on two cores.
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    // MariaDB answers before any file runs: started if installed but stopped, else what to install.
    globalSetup: ['test/support/globalSetup.ts'],
    // The AWS SDK's documented switch for its Node 20 end-of-support notice (aws/aws-sdk-js-v3#7983),
    // which every worker and child process would print once; package.json's engines says what is needed.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true' },
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
