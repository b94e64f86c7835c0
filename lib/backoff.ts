/** Exponential backoff with full jitter and a cap: delay = random(0, min(maxMs, baseMs * factor^(attempt-1))). */
export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  factor: number;
}

/** 1 s, doubling, never more than 15 min: a flaky downstream gets about a dozen tries in the first hour. */
export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, factor: 2, maxMs: 15 * 60_000 };

/**
 * A handler's Retry-After (e.g. from an HTTP 429) is obeyed up to 12 h. A downstream that asks for
 * more is most likely wrong (a date in the wrong zone, a typo), and a message parked for days looks lost.
 */
export const MAX_RETRY_AFTER_MS = 12 * 60 * 60_000;

/**
 * Delay before retry number `attempt` (1 = the retry after the first failed attempt):
 * `random() * min(maxMs, baseMs * factor^(attempt-1))`, floored to whole ms. Full jitter spreads
 * the retries of a batch that failed together, so they do not hit the downstream together again.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  const uncapped = policy.baseMs * policy.factor ** exponent;
  // A large attempt overflows to Infinity (or 0 * Infinity = NaN): both mean "the cap".
  const ceiling = Number.isFinite(uncapped) ? Math.min(policy.maxMs, uncapped) : policy.maxMs;
  const fraction = Math.min(Math.max(random(), 0), 1);
  return Math.floor(fraction * ceiling);
}

/**
 * The policy in force for a message: the default, overridden by each partial in turn, so pass
 * the queue's before the job type's (the type knows its downstream best). Throws a RangeError
 * for a policy that cannot work, so a bad configuration fails where it is loaded.
 */
export function resolveBackoff(...partials: Array<Partial<BackoffPolicy> | undefined>): BackoffPolicy {
  const policy = { ...DEFAULT_BACKOFF };
  for (const partial of partials) {
    if (partial?.baseMs !== undefined) policy.baseMs = partial.baseMs;
    if (partial?.factor !== undefined) policy.factor = partial.factor;
    if (partial?.maxMs !== undefined) policy.maxMs = partial.maxMs;
  }
  if (!(Number.isFinite(policy.baseMs) && policy.baseMs >= 0)) {
    throw new RangeError(`backoff baseMs must be a finite number >= 0, got ${policy.baseMs}`);
  }
  if (!(Number.isFinite(policy.factor) && policy.factor >= 1)) {
    throw new RangeError(`backoff factor must be a finite number >= 1, got ${policy.factor}`);
  }
  if (!(Number.isFinite(policy.maxMs) && policy.maxMs >= 0)) {
    throw new RangeError(`backoff maxMs must be a finite number >= 0, got ${policy.maxMs}`);
  }
  return policy;
}

/**
 * When a failed message may be claimed again. A `retryAfterMs` from the handler wins over the
 * policy, clamped to [0, MAX_RETRY_AFTER_MS].
 */
export function nextAvailableAt(now: Date, attempt: number, policy: BackoffPolicy, retryAfterMs?: number, random: () => number = Math.random): Date {
  const delayMs =
    retryAfterMs !== undefined && !Number.isNaN(retryAfterMs)
      ? Math.min(Math.max(Math.ceil(retryAfterMs), 0), MAX_RETRY_AFTER_MS)
      : backoffDelayMs(attempt, policy, random);
  return new Date(now.getTime() + delayMs);
}
