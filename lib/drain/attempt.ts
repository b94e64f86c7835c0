import { clip } from '../clip.js';
import { MAX_ERROR_LENGTH, RetryableError, describeError } from '../errors.js';

/** Error text stored on a message; long enough to diagnose, short enough for a row and a log line. */
export const ERROR_LIMIT = { chars: MAX_ERROR_LENGTH };

// setTimeout fires at once for delays beyond a signed 32-bit int (~24.8 days).
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One handler run, raced against its timeout and the drain run's abort: settles with the
 * handler's result, or earlier when the handler must be abandoned; the handler's own promise is
 * then left behind (it cannot be cancelled), its signal aborted so it can stop its I/O. A class
 * rather than closures: it runs per message, and one object costs less than the closures would.
 * A single message's attempt (dispatch.ts) and a batch's (batchDispatch.ts) extend it: `start`
 * calls the handler, `abandoned` is the result when it is given up (a retry, of all it holds).
 */
export abstract class HandlerAttempt<R> {
  // Made on first use: an AbortController costs about as much as the rest of a dispatch's own
  // work, and many handlers never read their signal. One read after the handler was abandoned is
  // already aborted.
  #controller: AbortController | undefined;
  #abandonedBecause: { reason: unknown } | undefined;
  #resolve: ((result: R) => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #timeoutMs: number;
  readonly #runSignal: AbortSignal | undefined;

  constructor(timeoutMs: number, runSignal: AbortSignal | undefined) {
    this.#timeoutMs = timeoutMs;
    this.#runSignal = runSignal;
  }

  /** Calls the handler; its result (or failure) is reported through `report`, exactly once. */
  protected abstract start(): void;

  /** The result when the handler is abandoned with this error. */
  protected abstract abandoned(error: string): R;

  /** Whether the handler is still running: no result reported and not abandoned yet. */
  protected get running(): boolean {
    return this.#resolve !== undefined;
  }

  /** The handler's signal (its context's). */
  signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#abandonedBecause !== undefined) this.#controller.abort(this.#abandonedBecause.reason);
    }
    return this.#controller.signal;
  }

  run(): Promise<R> {
    const result = new Promise<R>((resolve) => (this.#resolve = resolve));
    this.#timer = setTimeout(onTimeout, Math.min(this.#timeoutMs, MAX_TIMER_MS), this);
    if (this.#runSignal !== undefined) runAborts(this.#runSignal).add(this);
    this.start();
    return result;
  }

  /** The handler's result, or the reason it was abandoned: the first one counts. */
  report(result: R): void {
    const resolve = this.#resolve;
    if (resolve === undefined) return;
    this.#resolve = undefined;
    clearTimeout(this.#timer);
    if (this.#runSignal !== undefined) runAborts(this.#runSignal).delete(this);
    resolve(result);
  }

  abandon(reason: unknown, result: R): void {
    this.#abandonedBecause ??= { reason };
    this.#controller?.abort(reason);
    this.report(result);
  }

  timedOut(): void {
    const error = `timed out after ${this.#timeoutMs} ms`;
    this.abandon(new RetryableError(error), this.abandoned(error));
  }

  runAborted(reason: unknown): void {
    this.abandon(reason, this.abandoned(clip(`abandoned: drain run aborted (${describeError(reason)})`, ERROR_LIMIT)));
  }
}

/** What the timer and the run's abort see of an attempt, whatever its result. */
interface Abandonable {
  timedOut(): void;
  runAborted(reason: unknown): void;
}

function onTimeout(attempt: Abandonable): void {
  attempt.timedOut();
}

// One 'abort' listener per drain run's signal, rather than one added and removed per message.
const abortListeners = new WeakMap<AbortSignal, Set<Abandonable>>();

/** The attempts running under a drain run's signal; each is abandoned when it aborts. */
function runAborts(signal: AbortSignal): Set<Abandonable> {
  let attempts = abortListeners.get(signal);
  if (attempts === undefined) {
    const running = new Set<Abandonable>();
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
