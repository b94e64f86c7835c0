/**
 * Scenarios for the randomized invariant test, made from a seed: the queue's kind (plain or FIFO,
 * with a queue-wide rate, concurrency, both or neither), the messages and their scripts, who
 * enqueues them when (seeded before the drains start, enqueued while they run, or enqueued in a
 * Data API transaction held open a while before it commits or rolls back), the Data API faults
 * (a background rate and outages) and the drain processes SIGKILLed mid-work. The same seed and
 * size always give the same scenario; running it is timing-dependent (test/chaos/invariantRunner.ts).
 */
import type { Step } from '../../chaos/scripts.js';
import { prng } from '../prng.js';

export type ScenarioSize = 'small' | 'full';

export interface ScenarioQueue {
  fifo: boolean;
  ratePerSecond?: number;
  concurrency?: number;
}

export interface ScenarioMessage {
  /** The message's number in the scenario, carried in its payload (`n`): how its row is found. */
  n: number;
  groupKey?: string;
  steps: Step[];
  maxAttempts: number;
  /** Due this long after its producer's enqueue call (0: at once). */
  delayMs: number;
}

export interface Producer {
  /**
   * - seed: one insert before any drain starts;
   * - enqueue: `enqueue` at `atMs`, committed by its own statement;
   * - transaction: `enqueueInTransaction` at `atMs` in a Data API transaction held open `holdMs`,
   *   then committed (or rolled back when `rollback`).
   */
  kind: 'seed' | 'enqueue' | 'transaction';
  atMs: number;
  holdMs: number;
  rollback: boolean;
  messages: ScenarioMessage[];
}

export interface ScenarioOutage {
  atMs: number;
  durationMs: number;
  /** Of each statement (Execute, BatchExecute) failing with a 503 during the outage. */
  probability: number;
}

export interface KilledDrain {
  /** When the drain process is started, from the scenario's start. */
  atMs: number;
  /** SIGKILLed once it has started this many handlers, or `killAfterMs` after it was started. */
  killAfterDispatches: number;
  killAfterMs: number;
}

export interface Scenario {
  seed: number;
  size: ScenarioSize;
  queue: ScenarioQueue;
  /** Groups of a FIFO queue (0 for an unordered one). */
  groups: number;
  /** The longest a `sleep` step sleeps: how long handlers hold a concurrency permit. */
  handlerMaxSleepMs: number;
  producers: Producer[];
  faults: {
    /** Probability of each background fault kind per Data API call (resuming, 503 before, 503 after, 300 ms delay). */
    background: number;
    outages: ScenarioOutage[];
  };
  killedDrains: KilledDrain[];
}

/** The features a scenario exercises, for describing it and for checking that a seed set covers them all. */
export type Feature = 'fifo' | 'rate' | 'concurrency' | 'delays' | 'late-commits' | 'rollbacks' | 'retries' | 'faults' | 'outage' | 'kills';

const SIZES = {
  small: {
    messages: [24, 48],
    groups: [2, 5],
    producers: [4, 8],
    spreadMs: 2_500,
    outages: 1,
    outageMs: [400, 1_000],
    kills: 1,
    maxSleepMs: [10, 60],
    concurrency: [2, 6],
  },
  full: {
    messages: [40, 140],
    groups: [2, 12],
    producers: [6, 16],
    spreadMs: 5_000,
    outages: 2,
    outageMs: [500, 2_000],
    kills: 2,
    maxSleepMs: [10, 120],
    concurrency: [2, 8],
  },
} as const;

/**
 * Queue-wide rates drawn: at least 10 a second, so that the existing chaos test's tolerance (a
 * busiest second of 1.2 × the rate, test/chaos/limits.test.ts) leaves room for at least two
 * starts of slack, as it does at the 40/s of that test.
 */
const RATES = [10, 15, 20, 30, 40] as const;

/** Scripts and the attempts they get, by weight: most succeed at once, some retry, some end dead. */
const SCRIPTS: readonly (readonly [{ steps: Step[]; maxAttempts: number }, number])[] = [
  [{ steps: ['sleep'], maxAttempts: 10 }, 60],
  [{ steps: ['ok'], maxAttempts: 10 }, 10],
  [{ steps: ['throw', 'sleep'], maxAttempts: 10 }, 12],
  [{ steps: ['throw', 'throw', 'ok'], maxAttempts: 10 }, 6],
  [{ steps: ['permanent'], maxAttempts: 10 }, 6],
  [{ steps: ['throw'], maxAttempts: 2 }, 6],
];

export function generateScenario(seed: number, size: ScenarioSize = 'full'): Scenario {
  const random = prng(seed);
  const s = SIZES[size];
  const fifo = random.chance(0.5);
  const limits = random.weighted([
    ['none', 2],
    ['rate', 1],
    ['concurrency', 1],
    ['both', 1],
  ] as const);
  const queue: ScenarioQueue = {
    fifo,
    ...(limits === 'rate' || limits === 'both' ? { ratePerSecond: random.pick(RATES) } : {}),
    ...(limits === 'concurrency' || limits === 'both' ? { concurrency: random.int(s.concurrency[0], s.concurrency[1]) } : {}),
  };
  const groups = fifo ? random.int(s.groups[0], s.groups[1]) : 0;
  const total = random.int(s.messages[0], s.messages[1]);
  let n = 0;
  const message = (ownGroup?: string): ScenarioMessage => {
    const script = random.weighted(SCRIPTS);
    return {
      n: n++,
      ...(fifo ? { groupKey: ownGroup ?? `g${random.int(0, groups - 1)}` } : {}),
      steps: [...script.steps],
      maxAttempts: script.maxAttempts,
      delayMs: random.chance(0.25) ? random.int(200, 2_500) : 0,
    };
  };

  // Producers while the drains run: enqueues and transactions of a few messages each, spread over
  // the first seconds; what is left is seeded before the drains start. On a FIFO queue, half the
  // transactions enqueue into a group of their own (an outbox keyed by, say, the order): a group
  // with nothing before the uncommitted message, whose head that message becomes.
  const producers: Producer[] = [];
  const online = random.int(s.producers[0], s.producers[1]);
  for (let p = 0; p < online && n < total - 1; p++) {
    const transaction = random.chance(0.5);
    const count = Math.min(random.int(1, transaction ? 4 : 6), total - 1 - n);
    const ownGroup = fifo && transaction && random.chance(0.5) ? `t${p}` : undefined;
    producers.push({
      kind: transaction ? 'transaction' : 'enqueue',
      atMs: random.int(0, s.spreadMs),
      holdMs: transaction ? random.int(200, 3_000) : 0,
      rollback: transaction && random.chance(0.15),
      messages: Array.from({ length: count }, () => message(ownGroup)),
    });
  }
  producers.unshift({ kind: 'seed', atMs: 0, holdMs: 0, rollback: false, messages: Array.from({ length: total - n }, () => message()) });

  const background = random.pick([0, 0, 0.01, 0.02, 0.04]);
  const outages = Array.from({ length: random.int(0, s.outages) }, () => ({
    atMs: random.int(300, s.spreadMs + 1_000),
    durationMs: random.int(s.outageMs[0], s.outageMs[1]),
    probability: random.between(0.6, 1),
  }));
  const killedDrains = Array.from({ length: random.int(0, s.kills) }, () => ({
    atMs: random.int(0, s.spreadMs),
    killAfterDispatches: random.int(1, 8),
    killAfterMs: random.int(600, 2_500),
  }));
  return {
    seed,
    size,
    queue,
    groups,
    handlerMaxSleepMs: random.int(s.maxSleepMs[0], s.maxSleepMs[1]),
    producers,
    faults: { background, outages },
    killedDrains,
  };
}

export function scenarioFeatures(scenario: Scenario): Set<Feature> {
  const features = new Set<Feature>();
  const messages = scenario.producers.flatMap((p) => p.messages);
  if (scenario.queue.fifo) features.add('fifo');
  if (scenario.queue.ratePerSecond !== undefined) features.add('rate');
  if (scenario.queue.concurrency !== undefined) features.add('concurrency');
  if (messages.some((m) => m.delayMs > 0)) features.add('delays');
  if (scenario.producers.some((p) => p.kind === 'transaction' && !p.rollback)) features.add('late-commits');
  if (scenario.producers.some((p) => p.rollback)) features.add('rollbacks');
  if (messages.some((m) => m.steps[0] === 'throw')) features.add('retries');
  if (scenario.faults.background > 0) features.add('faults');
  if (scenario.faults.outages.length > 0) features.add('outage');
  if (scenario.killedDrains.length > 0) features.add('kills');
  return features;
}

/** One line: what the seed makes, for test names and failure messages. */
export function describeScenario(scenario: Scenario): string {
  const { queue } = scenario;
  const kind = [
    queue.fifo ? `FIFO (${scenario.groups} groups)` : 'plain',
    ...(queue.ratePerSecond === undefined ? [] : [`${queue.ratePerSecond}/s`]),
    ...(queue.concurrency === undefined ? [] : [`${queue.concurrency} at once`]),
  ].join(', ');
  const messages = scenario.producers.flatMap((p) => p.messages);
  const transactions = scenario.producers.filter((p) => p.kind === 'transaction');
  const holds = transactions.map((p) => p.holdMs);
  const parts = [
    kind,
    `${messages.length} messages`,
    `${messages.filter((m) => m.delayMs > 0).length} delayed`,
    `${scenario.producers.filter((p) => p.kind === 'enqueue').length} enqueues`,
    transactions.length === 0
      ? 'no transactions'
      : `${transactions.length} transactions held ${Math.min(...holds)}–${Math.max(...holds)} ms (${transactions.filter((p) => p.rollback).length} rolled back)`,
    `faults ${scenario.faults.background * 100}%`,
    `${scenario.faults.outages.length} outages`,
    `${scenario.killedDrains.length} killed drains`,
  ];
  return parts.join(', ');
}
