/**
 * The randomized invariant test, many seeds (`npm run test:chaos`): each seed makes a scenario of
 * FIFO groups or none, queue-wide limits, delays, late-committing producer transactions, Data API
 * faults and killed drain processes (test/support/invariants/scenario.ts), runs it on the real
 * stack (invariantRunner.ts) and checks the invariants on the trace (test/support/invariants/check.ts).
 *
 * INVARIANT_SEEDS=50 runs seeds 1..50 (default 20); INVARIANT_FROM=1000 starts elsewhere;
 * INVARIANT_SEED=1234 runs that seed alone (a failure prints this command); INVARIANT_SIZE=small
 * makes the scenarios of the `npm test` entry (test/invariants.test.ts).
 */
import { expect, it } from 'vitest';
import { describeScenario, generateScenario, type ScenarioSize } from '../support/invariants/scenario.js';
import { failureMessage, reportLine, runSeed } from './invariantRunner.js';

const size: ScenarioSize = process.env.INVARIANT_SIZE === 'small' ? 'small' : 'full';
const one = process.env.INVARIANT_SEED;
const from = Number(process.env.INVARIANT_FROM ?? 1);
const count = Number(process.env.INVARIANT_SEEDS ?? 20);
const seeds = one !== undefined && one !== '' ? [Number(one)] : Array.from({ length: count }, (_, i) => from + i);

for (const seed of seeds) {
  it(`seed ${seed}: ${describeScenario(generateScenario(seed, size))}`, async () => {
    const result = await runSeed(seed, size);
    console.log(reportLine(result));
    if (result.violations.length > 0) expect.fail(failureMessage(result));
  });
}
