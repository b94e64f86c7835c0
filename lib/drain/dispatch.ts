import type { z } from 'zod';
import { $ZodAsyncError } from 'zod/v4/core';
import { clip } from '../clip.js';
import { PermanentError, RetryableError, describeError } from '../errors.js';
import { isBatchType, type JobContext, type JobType, type SingleJobType } from '../jobs/types.js';
import { traceIdOf } from '../tracing.js';
import { ruleOf } from '../validation.js';
import { progressText } from './progress.js';
import { encodeResult } from './result.js';
import { ERROR_LIMIT, HandlerAttempt } from './attempt.js';

/**
 * `done` carries what the handler returned as JSON text (`result`), or why that was not stored
 * (`resultRefused`: the message is done all the same; see encodeResult).
 */
export type Outcome =
  | { kind: 'done'; result?: string; resultRefused?: string }
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
  /** The claim's lease, which progress writes present; without one, progress is checked and dropped. */
  leaseToken?: string;
}

/** Where context.progress values go (lib/drain/progress.ts ProgressWriter), already checked. */
export interface ProgressSink {
  report(held: { id: string; leaseToken: string }, progress: string): void;
}

export interface DispatchOptions {
  /** Per-message timeout when the job type sets none. */
  timeoutMs: number;
  /** The drain run's own abort: aborting it abandons the handler (outcome: retry). */
  signal?: AbortSignal;
  /** Receives the handler's progress while its attempt runs. */
  progress?: ProgressSink;
  control?: AttemptControl;
}

/**
 * Runs one message's handler and says what should happen to the message. Never throws for
 * anything the message or its handler does; only a timeout that is not a positive number (a
 * programming error) throws a RangeError. Whether a retry is really a death because attempts
 * ran out is the settler's call (see finalOutcome).
 */
export async function dispatch(message: DispatchMessage, jobType: JobType, options: DispatchOptions): Promise<Outcome> {
  const timeoutMs = jobType.timeoutMs ?? options.timeoutMs;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);

  // Awaited only when the schema is async: an await costs a turn of the microtask queue per message.
  const parsing = parsePayload(jobType, message.payload);
  const parsed = parsing instanceof Promise ? await parsing : parsing;
  if (!parsed.success) return { kind: 'dead', error: parsed.error };

  if (options.signal?.aborted) {
    return { kind: 'retry', error: clip(`not started: drain run aborted (${describeError(options.signal.reason)})`, ERROR_LIMIT) };
  }

  if (isBatchType(jobType)) {
    return { kind: 'retry', error: clip(`"${message.type}" is a batch type: its messages go to handleBatch (batchDispatch.ts)`, ERROR_LIMIT) };
  }
  return new Attempt(jobType, message, parsed.data, timeoutMs, options.signal, options.progress, options.control).run();
}

/** One message's handler run (HandlerAttempt: its timeout and the drain run's abort). */
class Attempt extends HandlerAttempt<Outcome> {
  readonly #jobType: SingleJobType;
  readonly #context: JobContext;
  readonly #payload: unknown;
  readonly #progress: ProgressSink | undefined;
  readonly #message: DispatchMessage;
  readonly control: AttemptControl | undefined;

  constructor(
    jobType: SingleJobType,
    message: DispatchMessage,
    payload: unknown,
    timeoutMs: number,
    runSignal: AbortSignal | undefined,
    progress: ProgressSink | undefined,
    control: AttemptControl | undefined,
  ) {
    super(timeoutMs, runSignal);
    this.#jobType = jobType;
    this.#payload = payload;
    this.#message = message;
    this.#progress = progress;
    this.#context = new MessageContext(message, this);
    this.control = control;
  }

  /** A checked progress value (MessageContext.progress): passed on while the attempt runs, dropped after. */
  progress(text: string): void {
    const leaseToken = this.#message.leaseToken;
    if (!this.running || this.#progress === undefined || leaseToken === undefined) return;
    this.#progress.report({ id: this.#message.id, leaseToken }, text);
  }

  protected start(): void {
    this.control?.started((reason, stopped) => this.abandon(reason, stopped));
    runHandler(this.#jobType, this.#payload, this.#context, this);
  }

  protected abandoned(error: string): Outcome {
    return { kind: 'retry', error };
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

  /** Checked here, so a bad value throws in the handler; written later, never awaited (lib/drain/progress.ts). */
  progress(value: number | Record<string, unknown>): void {
    this.#of.progress(progressText(value));
  }
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

export type Parsed = { success: true; data: unknown } | { success: false; error: string };

export function parsePayload(jobType: JobType, payload: unknown): Parsed | Promise<Parsed> {
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

/** done, with the handler's return value as JSON text when it gave one (shared DONE when not: no object per message). */
function doneWith(value: unknown): Outcome {
  if (value === undefined) return DONE;
  const encoded = encodeResult(value);
  if (encoded.kind === 'stored') return { kind: 'done', result: encoded.text };
  if (encoded.kind === 'refused') return { kind: 'done', resultRefused: encoded.rule };
  return DONE;
}

/** Runs the handler and reports its outcome; never throws, and reports exactly once. */
function runHandler(jobType: SingleJobType, payload: unknown, context: JobContext, attempt: Attempt): void {
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
    (value: unknown) => attempt.report(doneWith(value)),
    (error: unknown) => attempt.report(outcomeOfError(error)),
  );
}

/**
 * Only a PermanentError dead-letters the message early. Anything else thrown is a retry, also a
 * QueueError whose `retryable` is false: that flag says whether the failed call may be sent again
 * as it is (a statement timeout may have run), not whether the job may be tried again later.
 */
export function outcomeOfError(error: unknown): Outcome {
  const description = describeError(error);
  if (error instanceof PermanentError) return { kind: 'dead', error: description };
  const retryAfterMs = error instanceof RetryableError ? error.retryAfterMs : undefined;
  if (retryAfterMs !== undefined && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return { kind: 'retry', error: description, retryAfterMs };
  }
  return { kind: 'retry', error: description };
}
