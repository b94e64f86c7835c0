/**
 * Which failed Data API calls are sent again, and after how long. This is the only retry in the
 * stack: the SDK client runs with `maxAttempts: 1`, because its own retries would replay a write
 * whose first attempt may already have committed.
 */
import { sleep } from '../sleep.js';
import { DataApiUnavailableError, DatabaseResumingError, DeadlockError, TransactionBusyError, toDatabaseError, type DatabaseError } from './errors.js';

export interface RetryPolicy {
  /** Waits between attempts while the cluster resumes from auto-pause; the last entry repeats. */
  resumeDelaysMs: readonly number[];
  /** Total time to wait for a resume before giving up with DatabaseResumingError. */
  resumeMaxWaitMs: number;
  /** Waits before re-sending a replayable call after a 5xx or network failure; its length bounds the retries. */
  unavailableDelaysMs: readonly number[];
  /** Waits after "Transaction is still running a query" (a call made outside this layer's serialization). */
  busyDelaysMs: readonly number[];
  /** Re-runs of a deadlocked statement outside a transaction, and of a whole deadlocked transaction. */
  deadlockRetries: number;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
}

/** [DAC] waits 0, 2, 5, 10, 15 … s; a Serverless v2 resume takes up to about 15 s. */
export const DEFAULT_RESUME_DELAYS_MS: readonly number[] = [0, 2_000, 5_000, 10_000, 15_000];
export const DEFAULT_RESUME_MAX_WAIT_MS = 45_000;
export const DEFAULT_UNAVAILABLE_DELAYS_MS: readonly number[] = [100, 500, 2_000];
export const DEFAULT_BUSY_DELAYS_MS: readonly number[] = [10, 50, 200, 500];
export const DEFAULT_DEADLOCK_RETRIES = 3;

export function defaultRetryPolicy(overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return {
    resumeDelaysMs: DEFAULT_RESUME_DELAYS_MS,
    resumeMaxWaitMs: DEFAULT_RESUME_MAX_WAIT_MS,
    unavailableDelaysMs: DEFAULT_UNAVAILABLE_DELAYS_MS,
    busyDelaysMs: DEFAULT_BUSY_DELAYS_MS,
    deadlockRetries: DEFAULT_DEADLOCK_RETRIES,
    sleep,
    random: Math.random,
    ...overrides,
  };
}

export interface CallKind {
  /**
   * Sending the call twice does no harm: a read, an idempotent write, Begin or Rollback.
   * Only such calls are re-sent when the first attempt may have reached the database.
   */
  replayable: boolean;
  /**
   * Runs inside a transaction. A deadlock there has rolled back the whole transaction, so only
   * `transaction()` can retry it (by re-running its work).
   */
  inTransaction: boolean;
}

export interface RetryState {
  resumeWaitedMs: number;
  resumeAttempts: number;
  unavailableAttempts: number;
  busyAttempts: number;
  deadlockAttempts: number;
}

export const newRetryState = (): RetryState => ({ resumeWaitedMs: 0, resumeAttempts: 0, unavailableAttempts: 0, busyAttempts: 0, deadlockAttempts: 0 });

/**
 * How long to wait before sending the failed call again, or undefined to give up. Counts the
 * attempt in `state`.
 */
export function retryDelayMs(error: DatabaseError, call: CallKind, state: RetryState, policy: RetryPolicy): number | undefined {
  if (error instanceof DatabaseResumingError) {
    const delays = policy.resumeDelaysMs;
    const planned = delays[Math.min(state.resumeAttempts, delays.length - 1)] ?? 0;
    const remaining = policy.resumeMaxWaitMs - state.resumeWaitedMs;
    if (remaining <= 0) return undefined;
    const delay = Math.min(planned, remaining);
    state.resumeAttempts++;
    state.resumeWaitedMs += delay;
    return delay;
  }
  if (error instanceof DataApiUnavailableError) {
    if (!call.replayable && error.requestMayHaveRun) return undefined;
    return nextFrom(policy.unavailableDelaysMs, state.unavailableAttempts++);
  }
  if (error instanceof TransactionBusyError) return nextFrom(policy.busyDelaysMs, state.busyAttempts++);
  if (error instanceof DeadlockError && !call.inTransaction) {
    // Outside a transaction the statement was its own transaction and was rolled back whole.
    if (state.deadlockAttempts >= policy.deadlockRetries) return undefined;
    return deadlockBackoffMs(++state.deadlockAttempts, policy.random);
  }
  return undefined;
}

const nextFrom = (delays: readonly number[], attempt: number): number | undefined => delays[attempt];

/** Jittered and growing, so two transactions that deadlocked each other do not collide again in step. */
export function deadlockBackoffMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(1_000, 20 * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Runs `send`, re-sending it as `retryDelayMs` allows; throws the mapped error otherwise. */
export async function withRetry<T>(send: () => Promise<T>, call: CallKind, policy: RetryPolicy): Promise<T> {
  let state: RetryState | undefined;
  for (;;) {
    try {
      return await send();
    } catch (raw) {
      const error = toDatabaseError(raw);
      state ??= newRetryState();
      const delay = retryDelayMs(error, call, state, policy);
      if (delay === undefined) throw gaveUp(error, state);
      if (delay > 0) await policy.sleep(delay);
    }
  }
}

function gaveUp(error: DatabaseError, state: RetryState): DatabaseError {
  if (error instanceof DatabaseResumingError && state.resumeAttempts > 0) {
    return new DatabaseResumingError(`The database was still resuming after waiting ${state.resumeWaitedMs} ms: ${error.message}`, {
      cause: error.cause,
      errorName: error.errorName,
    });
  }
  return error;
}
