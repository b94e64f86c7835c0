import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // test/aurora needs a real cluster: npm run test:aurora.
    exclude: ['test/chaos/**', 'test/aurora/**', 'node_modules/**'],
    // MariaDB answers before any file runs: started if installed but stopped, else what to install.
    globalSetup: ['test/support/globalSetup.ts'],
    // The AWS SDK's documented switch for its Node 20 end-of-support notice (aws/aws-sdk-js-v3#7983),
    // which every worker and child process would print once; package.json's engines says what is needed.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ?? 'true' },
    // Every test file gets its own database (see test/support/stack.ts), so files may run in parallel;
    // the machine has two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
