/**
 * The randomized invariant test, a few small seeds in `npm test` (many run in `npm run test:chaos`,
 * test/chaos/invariants.test.ts): each seed's scenario runs on the real stack and its trace is
 * checked (test/support/invariants/check.ts). The seeds are chosen so that together they cover
 * every feature the generator has: FIFO groups, a queue-wide rate and concurrency, delays,
 * producer transactions held open before they commit or roll back, retries, Data API faults, an
 * outage and SIGKILLed drain processes. A failing seed prints the command that replays it.
 */
import { expect, it } from 'vitest';
import { describeScenario, generateScenario, scenarioFeatures, type Feature } from './support/invariants/scenario.js';
import { failureMessage, reportLine, runSeed } from './chaos/invariantRunner.js';

const SEEDS = [7, 15, 25];

it('the seeds cover every feature of the scenarios', () => {
  const covered = new Set<Feature>(SEEDS.flatMap((seed) => [...scenarioFeatures(generateScenario(seed, 'small'))]));
  const every: Feature[] = ['fifo', 'rate', 'concurrency', 'delays', 'late-commits', 'rollbacks', 'retries', 'faults', 'outage', 'kills'];
  expect([...covered].sort()).toEqual([...every].sort());
});

for (const seed of SEEDS) {
  it(`seed ${seed}: ${describeScenario(generateScenario(seed, 'small'))}`, async () => {
    const result = await runSeed(seed, 'small');
    console.log(reportLine(result));
    if (result.violations.length > 0) expect.fail(failureMessage(result));
  });
}
