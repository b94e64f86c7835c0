/**
 * Scripted messages: each payload says what its handler does on each attempt, so the final table
 * can be checked against what every message should have become.
 */
import * as z from 'zod';
import { PermanentError } from '../../lib/errors.js';
import { defineJobType, type BatchItemFailure, type JobType } from '../../lib/jobs/types.js';

/**
 * What one attempt does:
 * - ok: returns at once; sleep: returns after a few milliseconds (so a process can be killed mid-batch);
 * - throw: throws an ordinary error (retried); permanent: throws PermanentError (dead at once);
 * - hang: never settles and ignores its abort signal (abandoned at the timeout, retried);
 * - stall: blocks its whole process for `stallMs` (a frozen Lambda), then returns: past its lease.
 */
export type Step = 'ok' | 'sleep' | 'throw' | 'permanent' | 'hang' | 'stall';

export interface Script {
  /** Step per attempt (1-based); the last step repeats. */
  steps: Step[];
}

export const CHAOS_TYPE = 'chaos.scripted';

const scriptSchema = z.object({ steps: z.array(z.enum(['ok', 'sleep', 'throw', 'permanent', 'hang', 'stall'])).min(1), n: z.number().optional() });

export const stepOf = (script: Script, attempt: number): Step => script.steps[Math.min(attempt, script.steps.length) - 1]!;

export interface DispatchRecord {
  messageId: string;
  attempt: number;
  runner: string;
  /** This machine's clock (Date.now()) when the handler started and ended: comparable across processes. */
  startedMs?: number;
  endedMs?: number;
}

export interface ScriptedTypeOptions {
  /** Called before the step runs; a child process awaits its write, so a SIGKILL cannot hide a dispatch. */
  record: (dispatch: DispatchRecord) => Promise<void> | void;
  /** Called when the step has ended (returned or thrown; never for `hang`), with `endedMs` set. */
  recordEnd?: (dispatch: DispatchRecord) => Promise<void> | void;
  runner: string;
  timeoutMs: number;
  stallMs?: number;
  maxSleepMs?: number;
  /**
   * A batch type instead (lib/jobs/types.ts BatchJobType): each message's step runs in the batch,
   * side by side, its end mapped to the message's outcome (a throw: retry; PermanentError: dead).
   * Scripts for it leave out `hang`, which would hold the whole batch to its timeout (retrying the
   * others too, which their scripts cannot foresee).
   */
  batch?: { maxSize: number } | undefined;
}

export function scriptedJobType(options: ScriptedTypeOptions): JobType {
  if (options.batch !== undefined) return scriptedBatchJobType(options, options.batch);
  return defineJobType({
    type: CHAOS_TYPE,
    payload: scriptSchema,
    timeoutMs: options.timeoutMs,
    handle: async (payload, context) => {
      const dispatch: DispatchRecord = { messageId: context.id, attempt: context.attempt, runner: options.runner, startedMs: Date.now() };
      await options.record(dispatch);
      try {
        await runStep(stepOf(payload, context.attempt), context.attempt, options);
      } finally {
        dispatch.endedMs = Date.now();
        await options.recordEnd?.(dispatch);
      }
    },
  });
}

function scriptedBatchJobType(options: ScriptedTypeOptions, batch: { maxSize: number }): JobType {
  return defineJobType({
    type: CHAOS_TYPE,
    payload: scriptSchema,
    timeoutMs: options.timeoutMs,
    batch,
    handleBatch: async (messages) => {
      const ends = await Promise.allSettled(
        messages.map(async (message) => {
          const dispatch: DispatchRecord = { messageId: message.id, attempt: message.attempt, runner: options.runner, startedMs: Date.now() };
          await options.record(dispatch);
          try {
            await runStep(stepOf(message.payload, message.attempt), message.attempt, options);
          } finally {
            dispatch.endedMs = Date.now();
            await options.recordEnd?.(dispatch);
          }
        }),
      );
      return messages.flatMap((message, i): BatchItemFailure[] => {
        const end = ends[i]!;
        if (end.status === 'fulfilled') return [];
        const error = end.reason instanceof Error ? end.reason : new Error(String(end.reason));
        return [{ id: message.id, outcome: end.reason instanceof PermanentError ? 'dead' : 'retry', error }];
      });
    },
  });
}

async function runStep(step: Step, attempt: number, options: ScriptedTypeOptions): Promise<void> {
  switch (step) {
    case 'ok':
      return;
    case 'sleep':
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.random() * (options.maxSleepMs ?? 10)));
      return;
    case 'throw':
      throw new Error(`scripted failure on attempt ${attempt}`);
    case 'permanent':
      throw new PermanentError(`scripted permanent failure on attempt ${attempt}`);
    case 'hang':
      await new Promise(() => {});
      return;
    case 'stall': {
      const until = Date.now() + (options.stallMs ?? 6_000);
      while (Date.now() < until) {
        // Busy: nothing else in this process runs, its timers included, as in a frozen Lambda.
      }
      return;
    }
  }
}

export interface Expected {
  status: 'done' | 'dead';
  /** Dispatches the script needs when nothing goes wrong. */
  dispatches: number;
  /** What a dead letter's last_error must say. */
  error?: RegExp;
}

/** What a message should end as. A stall counts as a success: it returns, only late. */
export function expectedOutcome(script: Script, maxAttempts: number): Expected {
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const step = stepOf(script, attempt);
    if (step === 'ok' || step === 'sleep' || step === 'stall') return { status: 'done', dispatches: attempt };
    if (step === 'permanent') return { status: 'dead', dispatches: attempt, error: /PermanentError: scripted permanent failure/ };
  }
  const last = stepOf(script, maxAttempts);
  return { status: 'dead', dispatches: maxAttempts, error: last === 'hang' ? /timed out after/ : /scripted failure/ };
}
