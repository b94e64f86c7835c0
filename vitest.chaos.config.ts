import { defineConfig } from 'vitest/config';

/**
 * `npm run test:chaos`: the chaos suite, apart from `npm test` because it is slow (minutes) and
 * loads the machine. Files run one after another: each starts several drain runs or processes
 * of its own, and two at once would only make them slower on two cores.
 */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 120_000,
  },
});
