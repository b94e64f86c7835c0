import { describe, expect, it } from 'vitest';
import { prng } from '../prng.js';
import { generateScenario, scenarioFeatures, type Feature } from './scenario.js';

describe('prng', () => {
  it('gives the same draws for the same seed, and others for another', () => {
    const draws = (seed: number) => Array.from({ length: 5 }, prng(seed).next);
    expect(draws(42)).toEqual(draws(42));
    expect(draws(42)).not.toEqual(draws(43));
    for (const x of draws(7)) expect(x >= 0 && x < 1).toBe(true);
  });

  it('int stays within its bounds, both included', () => {
    const random = prng(1);
    const seen = new Set(Array.from({ length: 200 }, () => random.int(2, 4)));
    expect([...seen].sort()).toEqual([2, 3, 4]);
  });
});

describe('generateScenario', () => {
  it('is a function of the seed and size', () => {
    expect(generateScenario(1234, 'full')).toEqual(generateScenario(1234, 'full'));
    expect(generateScenario(1234, 'small')).not.toEqual(generateScenario(1234, 'full'));
  });

  it('numbers every message once, gives FIFO messages a group and others none', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const scenario = generateScenario(seed, 'full');
      const messages = scenario.producers.flatMap((p) => p.messages);
      expect(messages.map((m) => m.n).sort((a, b) => a - b)).toEqual(messages.map((_, i) => i));
      for (const m of messages) expect(m.groupKey !== undefined).toBe(scenario.queue.fifo);
      expect(scenario.producers[0]!.kind).toBe('seed');
      for (const p of scenario.producers) if (p.kind === 'transaction') expect(p.holdMs).toBeGreaterThanOrEqual(200);
    }
  });

  it('covers every feature within the first 20 seeds of either size', () => {
    const all: Feature[] = ['fifo', 'rate', 'concurrency', 'delays', 'late-commits', 'rollbacks', 'retries', 'faults', 'outage', 'kills'];
    for (const size of ['small', 'full'] as const) {
      const seen = new Set<Feature>();
      for (let seed = 1; seed <= 20; seed++) for (const feature of scenarioFeatures(generateScenario(seed, size))) seen.add(feature);
      expect([...seen].sort()).toEqual([...all].sort());
    }
  });
});
