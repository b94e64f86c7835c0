import { core, type z } from 'zod';
import { clip } from '../clip.js';
import { MAX_ERROR_LENGTH, PermanentError, RetryableError, describeError } from '../errors.js';
import type { JobContext, JobType } from '../jobs/types.js';
import { ruleOf } from '../validation.js';

export type Outcome = { kind: 'done' } | { kind: 'retry'; error: string; retryAfterMs?: number } | { kind: 'dead'; error: string };

export interface DispatchMessage {
  id: string;
  queue: string;
  type: string;
  payload: unknown;
  /** Already counted at claim: 1 on the first attempt. */
  attempts: number;
  maxAttempts: number;
}

export interface DispatchOptions {
  /** Per-message timeout when the job type sets none. */
  timeoutMs: number;
  /** The drain run's own abort: aborting it abandons the handler (outcome: retry). */
  signal?: AbortSignal;
}

/** Error text stored on a message; long enough to diagnose, short enough for a row and a log line. */
const ERROR_LIMIT = { chars: MAX_ERROR_LENGTH };

// setTimeout fires at once for delays beyond a signed 32-bit int (~24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Runs one message's handler and says what should happen to the message. Never throws for
 * anything the message or its handler does; only a timeout that is not a positive number (a
 * programming error) throws a RangeError. Whether a retry is really a death because attempts
 * ran out is the settler's call (see finalOutcome).
 */
export async function dispatch(message: DispatchMessage, jobType: JobType | undefined, options: DispatchOptions): Promise<Outcome> {
  const timeoutMs = jobType?.timeoutMs ?? options.timeoutMs;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);

  if (jobType === undefined) {
    return { kind: 'dead', error: clip(`unknown job type "${message.type}"`, ERROR_LIMIT) };
  }

  // Awaited only when the schema is async: an await costs a turn of the microtask queue per message.
  const parsing = parsePayload(jobType, message.payload);
  const parsed = parsing instanceof Promise ? await parsing : parsing;
  if (!parsed.success) return { kind: 'dead', error: parsed.error };

  if (options.signal?.aborted) {
    return { kind: 'retry', error: clip(`not started: drain run aborted (${describeError(options.signal.reason)})`, ERROR_LIMIT) };
  }

  // Made on first use: an AbortController costs about as much as the rest of a dispatch's own
  // work, and many handlers never read their signal. One read after the handler was abandoned is
  // already aborted.
  let controller: AbortController | undefined;
  let abandonedBecause: { reason: unknown } | undefined;
  const context: JobContext = {
    id: message.id,
    queue: message.queue,
    type: message.type,
    attempt: message.attempts,
    maxAttempts: message.maxAttempts,
    get signal() {
      if (controller === undefined) {
        controller = new AbortController();
        if (abandonedBecause !== undefined) controller.abort(abandonedBecause.reason);
      }
      return controller.signal;
    },
  };

  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopListening: (() => void) | undefined;
  try {
    // Settles with the handler's outcome, or earlier when the handler must be abandoned; the
    // handler's own promise is then left behind (it cannot be cancelled), its signal aborted so it
    // can stop its I/O.
    return await new Promise<Outcome>((resolve) => {
      const abandon = (reason: unknown, outcome: Outcome) => {
        abandonedBecause ??= { reason };
        controller?.abort(reason);
        resolve(outcome);
      };
      timer = setTimeout(
        () => {
          const error = `timed out after ${timeoutMs} ms`;
          abandon(new RetryableError(error), { kind: 'retry', error });
        },
        Math.min(timeoutMs, MAX_TIMER_MS),
      );
      if (options.signal !== undefined) {
        const runSignal = options.signal;
        stopListening = onAbort(runSignal, () => {
          const reason: unknown = runSignal.reason;
          abandon(reason, { kind: 'retry', error: clip(`abandoned: drain run aborted (${describeError(reason)})`, ERROR_LIMIT) });
        });
      }
      runHandler(jobType, parsed.data, context, resolve);
    });
  } finally {
    clearTimeout(timer);
    stopListening?.();
  }
}

// One 'abort' listener per drain run's signal, rather than one added and removed per message.
const abortCallbacks = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `callback` once when `signal` aborts; answers how to stop listening. */
function onAbort(signal: AbortSignal, callback: () => void): () => void {
  const callbacks = abortCallbacks.get(signal) ?? listenForAbort(signal);
  callbacks.add(callback);
  return () => callbacks.delete(callback);
}

function listenForAbort(signal: AbortSignal): Set<() => void> {
  const callbacks = new Set<() => void>();
  abortCallbacks.set(signal, callbacks);
  signal.addEventListener('abort', () => callbacks.forEach((callback) => callback()), { once: true });
  return callbacks;
}

/** The settler's verdict: a retry with no attempts left is a death. */
export function finalOutcome(outcome: Outcome, attempts: number, maxAttempts: number): Outcome {
  if (outcome.kind !== 'retry' || attempts < maxAttempts) return outcome;
  return { kind: 'dead', error: clip(`attempts exhausted (${attempts}/${maxAttempts}); last error: ${outcome.error}`, ERROR_LIMIT) };
}

/** Field paths and rules of a failed parse, never the values: payloads may hold personal data. */
export function describePayloadIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const path = issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.');
      const keys = issue.code === 'unrecognized_keys' ? ` [${issue.keys.join(', ')}]` : '';
      return `${path}: ${ruleOf(issue)}${keys}`;
    })
    .join('; ');
}

type Parsed = { success: true; data: unknown } | { success: false; error: string };

function parsePayload(jobType: JobType, payload: unknown): Parsed | Promise<Parsed> {
  const described = (result: z.ZodSafeParseResult<unknown>): Parsed =>
    result.success
      ? { success: true, data: result.data }
      : { success: false, error: clip(`payload does not match the "${jobType.type}" schema: ${describePayloadIssues(result.error.issues)}`, ERROR_LIMIT) };
  const threw = (error: unknown): Parsed => ({
    success: false,
    error: clip(`payload schema of "${jobType.type}" threw: ${describeError(error)}`, ERROR_LIMIT),
  });
  try {
    const result = safeParse(jobType.payload, payload);
    return result instanceof Promise ? result.then(described, threw) : described(result);
  } catch (error) {
    return threw(error);
  }
}

/**
 * Parses synchronously, as most schemas allow (an async parse costs a promise per step, per
 * message); a schema with async refinements or transforms makes zod throw $ZodAsyncError, and is
 * parsed asynchronously instead.
 */
function safeParse(schema: z.ZodType, payload: unknown): z.ZodSafeParseResult<unknown> | Promise<z.ZodSafeParseResult<unknown>> {
  try {
    return schema.safeParse(payload);
  } catch (error) {
    if (error instanceof core.$ZodAsyncError) return schema.safeParseAsync(payload);
    throw error;
  }
}

const DONE: Outcome = Object.freeze({ kind: 'done' });

/** Runs the handler and reports its outcome; never throws, and reports exactly once. */
function runHandler(jobType: JobType, payload: unknown, context: JobContext, report: (outcome: Outcome) => void): void {
  let running: unknown;
  try {
    running = jobType.handle(payload, context);
  } catch (error) {
    // A handler that throws before returning a promise.
    report(outcomeOfError(error));
    return;
  }
  // A native promise passes through Promise.resolve as it is; a handler written in plain
  // JavaScript may return anything.
  void Promise.resolve(running).then(
    () => report(DONE),
    (error: unknown) => report(outcomeOfError(error)),
  );
}

/**
 * Only a PermanentError dead-letters the message early. Anything else thrown is a retry, also a
 * QueueError whose `retryable` is false: that flag says whether the failed call may be sent again
 * as it is (a statement timeout may have run), not whether the job may be tried again later.
 */
function outcomeOfError(error: unknown): Outcome {
  const description = describeError(error);
  if (error instanceof PermanentError) return { kind: 'dead', error: description };
  const retryAfterMs = error instanceof RetryableError ? error.retryAfterMs : undefined;
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return { kind: 'retry', error: description, retryAfterMs };
  }
  return { kind: 'retry', error: description };
}
