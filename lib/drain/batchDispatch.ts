import { clip } from '../clip.js';
import { describeError } from '../errors.js';
import type { BatchContext, BatchItemFailure, BatchJobType, BatchMessage } from '../jobs/types.js';
import { traceIdOf } from '../tracing.js';
import { ERROR_LIMIT, HandlerAttempt } from './attempt.js';
import { outcomeOfError, parsePayload, type DispatchMessage, type DispatchOptions, type Outcome, type Parsed } from './dispatch.js';

/** Every message of a batch, by id, with its outcome. */
export type BatchOutcomes = Map<string, Outcome>;

const DONE: Outcome = Object.freeze({ kind: 'done' });

/**
 * Runs a batch type's handler once for `messages` (all of that type, claimed by this lane) and
 * says what should happen to each. Like dispatch, never throws for anything the messages or the
 * handler do: a payload that fails the schema is dead alone and not passed; a throw, the timeout
 * or the run's abort retries every message passed; what the handler leaves out is done.
 */
export async function dispatchBatch(messages: readonly DispatchMessage[], jobType: BatchJobType, options: DispatchOptions): Promise<BatchOutcomes> {
  const timeoutMs = jobType.timeoutMs ?? options.timeoutMs;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
  const outcomes: BatchOutcomes = new Map();
  const batch: BatchMessage[] = [];
  const parsings = messages.map((message) => parsePayload(jobType, message.payload));
  for (const [i, parsing] of parsings.entries()) {
    const parsed: Parsed = parsing instanceof Promise ? await parsing : parsing;
    const message = messages[i]!;
    if (!parsed.success) {
      outcomes.set(message.id, { kind: 'dead', error: parsed.error });
      continue;
    }
    const traceId = traceIdOf(message.traceContext ?? null) ?? undefined;
    batch.push({
      id: message.id,
      payload: parsed.data,
      attempt: message.attempts,
      maxAttempts: message.maxAttempts,
      ...(traceId === undefined ? {} : { traceId }),
    });
  }
  if (batch.length === 0) return outcomes;
  if (options.signal?.aborted) {
    const error = clip(`not started: drain run aborted (${describeError(options.signal.reason)})`, ERROR_LIMIT);
    for (const message of batch) outcomes.set(message.id, { kind: 'retry', error });
    return outcomes;
  }
  const queue = messages[0]!.queue;
  const results = await new BatchAttempt(jobType, batch, queue, timeoutMs, options.signal).run();
  for (const [id, outcome] of results) outcomes.set(id, outcome);
  return outcomes;
}

/** One batch's handler run (HandlerAttempt: its timeout and the drain run's abort). */
class BatchAttempt extends HandlerAttempt<BatchOutcomes> {
  readonly #jobType: BatchJobType;
  readonly #batch: readonly BatchMessage[];
  readonly #context: BatchContext;

  constructor(jobType: BatchJobType, batch: readonly BatchMessage[], queue: string, timeoutMs: number, runSignal: AbortSignal | undefined) {
    super(timeoutMs, runSignal);
    this.#jobType = jobType;
    this.#batch = batch;
    this.#context = new BatchContextOf(queue, jobType.type, this);
  }

  protected start(): void {
    let running: unknown;
    try {
      running = this.#jobType.handleBatch(this.#batch, this.#context);
    } catch (error) {
      this.report(this.#all(outcomeOfError(error)));
      return;
    }
    void Promise.resolve(running).then(
      (failures) => this.report(outcomesOf(this.#batch, failures)),
      // A PermanentError too retries them all (see BatchJobType): only returned outcomes dead-letter.
      (error: unknown) => this.report(this.#all(retryOf(outcomeOfError(error), error))),
    );
  }

  protected abandoned(error: string): BatchOutcomes {
    return this.#all({ kind: 'retry', error });
  }

  #all(outcome: Outcome): BatchOutcomes {
    return new Map(this.#batch.map((message) => [message.id, outcome]));
  }
}

/** A thrown error's outcome for a whole batch: always a retry. */
function retryOf(outcome: Outcome, error: unknown): Outcome {
  if (outcome.kind === 'retry') return outcome;
  return { kind: 'retry', error: clip(`handleBatch threw: ${describeError(error)}`, ERROR_LIMIT) };
}

class BatchContextOf implements BatchContext {
  readonly queue: string;
  readonly type: string;
  readonly #of: BatchAttempt;

  constructor(queue: string, type: string, of: BatchAttempt) {
    this.queue = queue;
    this.type = type;
    this.#of = of;
  }

  get signal(): AbortSignal {
    return this.#of.signal();
  }
}

/**
 * The handler's answer as an outcome per message: the failures it named, done for the rest. An
 * answer that is not a list of failures retries them all (the handler's contract is broken, not
 * the messages); a failure naming a message not in the batch is ignored, the first one for a
 * message counts, and one with an unknown `outcome` retries its message.
 */
export function outcomesOf(batch: readonly BatchMessage[], failures: unknown): BatchOutcomes {
  const outcomes: BatchOutcomes = new Map(batch.map((message) => [message.id, DONE]));
  if (failures === undefined) return outcomes;
  if (failures === null || typeof failures !== 'object' || !(Symbol.iterator in failures)) {
    const error = 'handleBatch resolved with something other than a list of failures';
    for (const message of batch) outcomes.set(message.id, { kind: 'retry', error });
    return outcomes;
  }
  const named = new Set<string>();
  for (const failure of failures as Iterable<Partial<BatchItemFailure> | null | undefined>) {
    const id = failure?.id;
    if (typeof id !== 'string' || !outcomes.has(id) || named.has(id)) continue;
    named.add(id);
    outcomes.set(id, outcomeOfFailure(failure!));
  }
  return outcomes;
}

function outcomeOfFailure(failure: Partial<BatchItemFailure>): Outcome {
  const error = clip(failure.error === undefined ? `handleBatch said ${String(failure.outcome)}, with no error` : describeError(failure.error), ERROR_LIMIT);
  if (failure.outcome === 'dead') return { kind: 'dead', error };
  if (failure.outcome !== 'retry')
    return { kind: 'retry', error: clip(`handleBatch answered an unknown outcome ${JSON.stringify(failure.outcome)}: ${error}`, ERROR_LIMIT) };
  const retryAfterMs = failure.retryAfterMs;
  return typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0
    ? { kind: 'retry', error, retryAfterMs }
    : { kind: 'retry', error };
}
