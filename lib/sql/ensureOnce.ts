import type { Db } from '../db/types.js';

/**
 * Rows some statements need (permit rows, group slots) are added once per process and database,
 * and again after `recheckMs`, so rows removed meanwhile (a table reset) come back without a
 * restart. Runs `ensure` unless it ran for this database and key within `recheckMs`.
 */
const ensured = new WeakMap<Db, Map<string, number>>();

export async function ensureOnce(db: Db, input: { key: string; now: Date; recheckMs: number }, ensure: () => Promise<void>): Promise<void> {
  let known = ensured.get(db);
  if (known === undefined) ensured.set(db, (known = new Map<string, number>()));
  const checkedMs = known.get(input.key);
  if (checkedMs !== undefined && input.now.getTime() - checkedMs < input.recheckMs) return;
  await ensure();
  known.set(input.key, input.now.getTime());
}
