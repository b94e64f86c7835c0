/** A figure measured over several repetitions: its median and range. */
export interface Figure {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function figure(samples: readonly number[]): Figure {
  if (samples.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [] };
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples: [...samples] };
}

/** The median of each key over repetitions that each produced a record of numbers. */
export function figures<K extends string>(runs: readonly Record<K, number>[]): Record<K, Figure> {
  const keys = Object.keys(runs[0] ?? {}) as K[];
  return Object.fromEntries(keys.map((key) => [key, figure(runs.map((run) => run[key]))])) as Record<K, Figure>;
}

/** A percentile by nearest rank (p in 0–1); NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(sorted.length * p) - 1)]!;
}

export function ratePerSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1_000) / ms : Number.POSITIVE_INFINITY;
}
