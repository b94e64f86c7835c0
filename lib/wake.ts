/**
 * Wake on enqueue: after an enqueue commits, start a drain for its queue unless one is already
 * polling it, so a message is picked up in well under a second instead of at the next schedule.
 *
 * Coalesced twice. In this process, a queue is looked at most once per WAKE_INTERVAL_MS (a burst
 * of enqueues costs one check). Across processes, claimWake lets one caller per interval win,
 * and none while a lingering drain promises to poll the queue at least an interval ahead (see
 * lib/drain/activity.ts): a message enqueued within the interval after a check is therefore
 * claimed by the drain that check relied on, or by the one it started. A check reads the queue's
 * row first (one read, no lock, when a promise or a recent wake stands) and takes the wake only
 * when it may; a row found missing is made again. A queue saturated by its queue-wide limits
 * starts no drain that could take nothing: the run holding its permits promises to poll it while
 * it waits on them (lib/drain/lane.ts). A wake that fails (the check or the invoke) loses
 * nothing: the next interval's enqueue or the schedule drains the queue.
 */
import type { Clock } from './clock.js';
import type { Db } from './db/types.js';
import { WAKE_INTERVAL_MS } from './queues.js';
import { claimWake, ensureQueueStates, readWakeState } from './sql/drainActivity.js';

/** Starts a drain run for a queue without waiting for it (a Lambda `Event` invoke). */
export type InvokeDrain = (queue: string) => Promise<void>;

export type WakeResult = 'woken' | 'drain-active' | 'checked-recently' | 'failed';

export interface WakerOptions {
  db: Db;
  clock: Clock;
  invoke: InvokeDrain;
  /** The configured queues: their queue_state rows are made once, on the first wake. */
  queues: readonly string[];
  intervalMs?: number;
  log?: { warn(message: string, attributes: Record<string, unknown>): void };
}

export class Waker {
  readonly #options: WakerOptions;
  readonly #intervalMs: number;
  readonly #checkedAtMs = new Map<string, number>();
  #rows: Promise<void> | undefined;

  constructor(options: WakerOptions) {
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? WAKE_INTERVAL_MS;
  }

  /** Never throws: a failed wake only delays the queue's drain. */
  async wake(queue: string): Promise<WakeResult> {
    const { db, clock } = this.#options;
    const nowMs = clock.now().getTime();
    if (nowMs - (this.#checkedAtMs.get(queue) ?? Number.NEGATIVE_INFINITY) < this.#intervalMs) return 'checked-recently';
    this.#checkedAtMs.set(queue, nowMs);
    const activeBefore = new Date(nowMs + this.#intervalMs);
    const wokenBefore = new Date(nowMs - this.#intervalMs);
    try {
      this.#rows ??= ensureQueueStates(db, this.#options.queues, new Date(nowMs)).catch((error: unknown) => {
        this.#rows = undefined;
        throw error;
      });
      await this.#rows;
      // Read first: a check that finds a promise or a recent wake costs one read and takes no lock.
      const state = await readWakeState(db, queue);
      if (state === undefined) {
        // Its row is gone (a table reset under this process): made again, then taken as a new queue's.
        this.#options.log?.warn('the queue had no queue_state row; made again', { queue });
        await ensureQueueStates(db, [...new Set([...this.#options.queues, queue])], new Date(nowMs));
      } else if ((state.drainActiveUntil?.getTime() ?? 0) >= activeBefore.getTime() || (state.wokenAt?.getTime() ?? 0) >= wokenBefore.getTime()) {
        return 'drain-active';
      }
      const won = await claimWake(db, { queue, now: new Date(nowMs), activeBefore, wokenBefore });
      if (!won) return 'drain-active';
      await this.#options.invoke(queue);
      return 'woken';
    } catch (error) {
      // Let the next enqueue try again rather than wait out the interval.
      this.#checkedAtMs.delete(queue);
      this.#options.log?.warn('could not wake a drain; the queue is drained by the next wake or the schedule', { queue, error: String(error) });
      return 'failed';
    }
  }
}

export interface LambdaInvokeOptions {
  functionName: string;
  /** serverless offline's invoke endpoint locally; absent in AWS. */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** Give up an invoke this slow (the enqueue's answer waits for the request, not the drain). */
  timeoutMs?: number;
}

/** Invokes the drain function asynchronously with `{ queue, wake: true }`. */
export function lambdaInvoker(options: LambdaInvokeOptions): InvokeDrain {
  // Loaded on first use: only enqueues that win a wake need the Lambda client.
  let client: Promise<{ send: (command: unknown, signal: AbortSignal) => Promise<unknown>; InvokeCommand: new (input: object) => unknown }> | undefined;
  const load = () =>
    (client ??= import('@aws-sdk/client-lambda').then(({ LambdaClient, InvokeCommand }) => {
      const local = options.endpoint !== undefined && options.endpoint !== '';
      const lambda = new LambdaClient({
        ...(options.region ? { region: options.region } : {}),
        ...(local ? { endpoint: options.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
        // A duplicate wake is harmless, a slow one delays the enqueue's answer: one quick try.
        maxAttempts: 1,
      });
      return { send: (command: unknown, abortSignal: AbortSignal) => lambda.send(command as never, { abortSignal }), InvokeCommand: InvokeCommand as never };
    }));
  return async (queue) => {
    const { send, InvokeCommand } = await load();
    const payload = new TextEncoder().encode(JSON.stringify({ queue, wake: true }));
    await send(
      new InvokeCommand({ FunctionName: options.functionName, InvocationType: 'Event', Payload: payload }),
      AbortSignal.timeout(options.timeoutMs ?? 2_000),
    );
  };
}
