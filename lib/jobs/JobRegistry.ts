import * as z from 'zod';
import { resolveBackoff } from '../backoff.js';
import { formatPath, ruleOf } from '../validation.js';
import type { AnyJobType, JobType } from './types.js';

/** Most messages one batch handler call may get: what one claim and one settle call carry well. */
export const MAX_BATCH_SIZE = 1_000;

/** How a type says how it handles messages: `handle`, or `batch` with `handleBatch`, never both. */
// zod 4's z.function() is a function factory, not a schema of functions.
const aFunction = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', 'must be a function');

const handlerDeclaration = z.union([
  z.object({ handle: aFunction, batch: z.undefined().optional(), handleBatch: z.undefined().optional() }),
  z.object({
    handle: z.undefined({ error: 'must be left out: a batch type declares handleBatch instead' }).optional(),
    batch: z.strictObject({
      maxSize: z.int().min(1).max(MAX_BATCH_SIZE),
      // A minute: holding messages longer only shortens what the lease leaves for the handler.
      maxWaitMs: z.number().min(0).max(60_000).optional(),
    }),
    handleBatch: aFunction,
  }),
]);

// Fits queue_messages.type (VARCHAR(128) ascii).
const TYPE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

/** The job types a deployment knows, by name. Checks each type's settings when it is registered. */
export class JobRegistry {
  readonly #types = new Map<string, JobType>();
  /** Set on a queue's registry (carriedBy): the registry it was taken from. */
  #all: JobRegistry | undefined;

  constructor(types: Iterable<AnyJobType>) {
    for (const jobType of types) {
      if (!TYPE_NAME.test(jobType.type)) {
        throw new TypeError(`job type name "${jobType.type}" must be 1-128 characters of A-Z a-z 0-9 . _ : -`);
      }
      if (this.#types.has(jobType.type)) throw new Error(`job type "${jobType.type}" is registered twice`);
      if (jobType.timeoutMs !== undefined && !(jobType.timeoutMs > 0 && Number.isFinite(jobType.timeoutMs))) {
        throw new RangeError(`job type "${jobType.type}": timeoutMs must be a positive number`);
      }
      if (jobType.maxAttempts !== undefined && !(Number.isInteger(jobType.maxAttempts) && jobType.maxAttempts >= 1)) {
        throw new RangeError(`job type "${jobType.type}": maxAttempts must be an integer >= 1`);
      }
      const declared = handlerDeclaration.safeParse(jobType);
      if (!declared.success) {
        throw new TypeError(
          `job type "${jobType.type}" must declare handle, or batch { maxSize 1-${MAX_BATCH_SIZE}, maxWaitMs? 0-60000 } with handleBatch: ${describeDeclaration(declared.error.issues)}`,
        );
      }
      try {
        resolveBackoff(jobType.backoff);
      } catch (error) {
        throw new RangeError(`job type "${jobType.type}": ${(error as Error).message}`, { cause: error });
      }
      this.#types.set(jobType.type, jobType);
    }
  }

  get(type: string): JobType | undefined {
    return this.#types.get(type);
  }

  has(type: string): boolean {
    return this.#types.has(type);
  }

  /** Registered type names, in registration order. */
  types(): string[] {
    return [...this.#types.keys()];
  }

  /**
   * The types a queue carries (its `types` in queue.config.ts), as a registry of their own: what a
   * drain of that queue dispatches and budgets its leases by. Undefined: every registered type.
   * Every name must be registered (defineConfig checks it).
   */
  carriedBy(types: readonly string[] | undefined): JobRegistry {
    if (types === undefined) return this;
    const carried = new JobRegistry([]);
    for (const type of types) {
      const jobType = this.#types.get(type);
      if (jobType === undefined) throw new Error(`job type "${type}" is not registered (registered: ${this.types().join(', ') || 'none'})`);
      carried.#types.set(type, jobType);
    }
    carried.#all = this;
    return carried;
  }

  /** A configuration problem's words for a name that is not registered: `"x" is not a registered job type (registered: …)`. */
  notRegistered(type: string): string {
    return `"${type}" is not a registered job type (registered: ${this.types().join(', ') || 'none'})`;
  }

  /** Why a message of `type` has no handler here: not registered, or not one its queue carries. */
  missingType(type: string): string {
    if (this.#all === undefined || !this.#all.has(type)) return `unknown job type "${type}"`;
    return `job type "${type}" is not one its queue carries (its types in queue.config.ts: ${this.types().join(', ')})`;
  }

  /**
   * The fewest messages one handler call takes, whatever the type: 1 with any single-message type
   * (or none), else the smallest batch maxSize. Any type of the registry may come in a claim, so a
   * claim's budget can count on no more (budget.ts).
   */
  messagesPerHandler(): number {
    let fewest: number | undefined;
    for (const jobType of this.#types.values()) fewest = Math.min(fewest ?? Number.POSITIVE_INFINITY, jobType.batch?.maxSize ?? 1);
    return fewest ?? 1;
  }

  /**
   * The handler that may run longest: any type of the registry may come in a claim, so every lease
   * and every run of its queue must fit it. A type without a timeout of its own counts as `defaultMs`; with no types, `type`
   * is undefined.
   */
  longestTimeout(defaultMs: number): { type: string | undefined; timeoutMs: number } {
    let longest: { type: string | undefined; timeoutMs: number } = { type: undefined, timeoutMs: defaultMs };
    for (const jobType of this.#types.values()) {
      const timeoutMs = jobType.timeoutMs ?? defaultMs;
      if (longest.type === undefined || timeoutMs > longest.timeoutMs) longest = { type: jobType.type, timeoutMs };
    }
    return longest;
  }
}

/** A union's issues name the branch closest to the declaration: its fields, rules and zod's words. */
function describeDeclaration(issues: readonly z.core.$ZodIssue[]): string {
  const union = issues.find((issue) => issue.code === 'invalid_union');
  // The branch with the fewest issues is the one the declaration meant.
  const closest =
    union === undefined || union.code !== 'invalid_union' || union.errors.length === 0
      ? issues
      : union.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
  return closest.map((issue) => `${formatPath(issue.path) || '(type)'}: ${ruleOf(issue)} (${issue.message})`).join('; ');
}
