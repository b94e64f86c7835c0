import type { z } from 'zod';
import { $ZodAsyncError } from 'zod/v4/core';
import { clip } from '../clip.js';
import { MAX_ERROR_LENGTH, PermanentError, RetryableError, describeError } from '../errors.js';
import type { JobContext, JobType } from '../jobs/types.js';
import { traceIdOf } from '../tracing.js';
import { ruleOf } from '../validation.js';

export type Outcome =
  | { kind: 'done' }
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  | { kind: 'dead'; error: string }
  /** Its cancel was requested while it ran: settled `cancelled`. */
  | { kind: 'cancelled'; error: string }
  /** Its lease was lost while it ran: nothing is written (another drain may hold it now). */
  | { kind: 'lost'; error: string };

/**
 * What the lane running an attempt may do to it beyond the run's abort: stop it (a lost lease, a
 * cancel) and extend its lease (context.extendLease). Optional: dispatch alone needs neither.
 */
export interface AttemptControl {
  /** Called as the handler starts, with what abandons it: its signal aborted with `reason`, its outcome `outcome` (unless it reported one first). */
  started(stop: (reason: unknown, outcome: Outcome) => void): void;
  /** context.extendLease: resolves once the lease is written, rejects when it was lost. */
  extendLease(seconds: number): Promise<void>;
}

export interface DispatchMessage {
  id: string;
  queue: string;
  type: string;
  payload: unknown;
  /** Already counted at claim: 1 on the first attempt. */
  attempts: number;
  maxAttempts: number;
  /** The producer's trace context as stored (lib/tracing.ts), or null. */
  traceContext?: string | null;
}

export interface DispatchOptions {
  /** Per-message timeout when the job type sets none. */
  timeoutMs: number;
  /** The drain run's own abort: aborting it abandons the handler (outcome: retry). */
  signal?: AbortSignal;
  control?: AttemptControl;
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

  return new Attempt(jobType, message, timeoutMs, options.signal, options.control).run(parsed.data);
}

/**
 * One handler run, raced against its timeout and the drain run's abort: settles with the
 * handler's outcome, or earlier when the handler must be abandoned; the handler's own promise is
 * then left behind (it cannot be cancelled), its signal aborted so it can stop its I/O. A class
 * rather than closures: it runs per message, and one object costs less than the closures would.
 */
class Attempt {
  // Made on first use: an AbortController costs about as much as the rest of a dispatch's own
  // work, and many handlers never read their signal. One read after the handler was abandoned is
  // already aborted.
  #controller: AbortController | undefined;
  #abandonedBecause: { reason: unknown } | undefined;
  #resolve: ((outcome: Outcome) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #jobType: JobType;
  readonly #context: JobContext;
  readonly #timeoutMs: number;
  readonly #runSignal: AbortSignal | undefined;
  readonly control: AttemptControl | undefined;

  constructor(jobType: JobType, message: DispatchMessage, timeoutMs: number, runSignal: AbortSignal | undefined, control: AttemptControl | undefined) {
    this.#jobType = jobType;
    this.#context = new MessageContext(message, this);
    this.#timeoutMs = timeoutMs;
    this.#runSignal = runSignal;
    this.control = control;
  }

  /** The handler's signal (MessageContext.signal). */
  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abandonedBecause !== undefined) this.#controller.abort(this.#abandonedBecause.reason);
    }
    return this.#controller.signal;
  }

  run(payload: unknown): Promise<Outcome> {
    const outcome = new Promise<Outcome>((resolve) => (this.#resolve = resolve));
    this.#timer = setTimeout(onTimeout, Math.min(this.#timeoutMs, MAX_TIMER_MS), this);
    if (this.#runSignal !== undefined) runAborts(this.#runSignal).add(this);
    this.control?.started((reason, stopped) => this.abandon(reason, stopped));
    runHandler(this.#jobType, payload, this.#context, this);
    return outcome;
  }

  /** The handler's outcome, or the reason it was abandoned: the first one counts. */
  report(outcome: Outcome): void {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    this.#resolve = undefined;
    clearTimeout(this.#timer);
    if (this.#runSignal !== undefined) runAborts(this.#runSignal).delete(this);
    resolve(outcome);
  }

  abandon(reason: unknown, outcome: Outcome): void {
    this.#abandonedBecause ??= { reason };
    this.#controller?.abort(reason);
    this.report(outcome);
  }

  timedOut(): void {
    const error = `timed out after ${this.#timeoutMs} ms`;
    this.abandon(new RetryableError(error), { kind: 'retry', error });
  }

  runAborted(reason: unknown): void {
    this.abandon(reason, { kind: 'retry', error: clip(`abandoned: drain run aborted (${describeError(reason)})`, ERROR_LIMIT) });
  }
}

/** What a handler gets: the message's identity and the attempt's signal, nothing of the attempt's state. */
class MessageContext implements JobContext {
  readonly id: string;
  readonly queue: string;
  readonly type: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly #of: Attempt;
  readonly #traceContext: string | null;

  constructor(message: DispatchMessage, of: Attempt) {
    this.id = message.id;
    this.queue = message.queue;
    this.type = message.type;
    this.attempt = message.attempts;
    this.maxAttempts = message.maxAttempts;
    this.#of = of;
    this.#traceContext = message.traceContext ?? null;
  }

  get signal(): AbortSignal {
    return this.#of.signal();
  }

  extendLease(seconds: number): Promise<void> {
    if (!(seconds > 0) || !Number.isFinite(seconds)) return Promise.reject(new RangeError(`extendLease: seconds must be a positive number, got ${seconds}`));
    const control = this.#of.control;
    // Run by dispatch alone (no lane): there is no lease to extend.
    if (control === undefined) return Promise.reject(new Error('extendLease: this attempt holds no lease'));
    return control.extendLease(seconds);
  }

  // Parsed on read: most handlers never ask.
  get traceId(): string | undefined {
    return traceIdOf(this.#traceContext) ?? undefined;
  }
}

function onTimeout(attempt: Attempt): void {
  attempt.timedOut();
}

// One 'abort' listener per drain run's signal, rather than one added and removed per message.
const abortListeners = new WeakMap<AbortSignal, Set<Attempt>>();

/** The attempts running under a drain run's signal; each is abandoned when it aborts. */
function runAborts(signal: AbortSignal): Set<Attempt> {
  let attempts = abortListeners.get(signal);
  if (attempts === undefined) {
    const running = new Set<Attempt>();
    attempts = running;
    abortListeners.set(signal, running);
    signal.addEventListener(
      'abort',
      () => {
        const reason: unknown = signal.reason;
        for (const attempt of [...running]) attempt.runAborted(reason);
      },
      { once: true },
    );
  }
  return attempts;
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
    if (error instanceof $ZodAsyncError) return schema.safeParseAsync(payload);
    throw error;
  }
}

const DONE: Outcome = Object.freeze({ kind: 'done' });

/** Runs the handler and reports its outcome; never throws, and reports exactly once. */
function runHandler(jobType: JobType, payload: unknown, context: JobContext, attempt: Attempt): void {
  let running: unknown;
  try {
    running = jobType.handle(payload, context);
  } catch (error) {
    // A handler that throws before returning a promise.
    attempt.report(outcomeOfError(error));
    return;
  }
  // A native promise passes through Promise.resolve as it is; a handler written in plain
  // JavaScript may return anything.
  void Promise.resolve(running).then(
    () => attempt.report(DONE),
    (error: unknown) => attempt.report(outcomeOfError(error)),
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
