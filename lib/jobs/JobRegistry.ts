import { resolveBackoff } from '../backoff.js';
import type { AnyJobType, JobType } from './types.js';

// Fits queue_messages.type (VARCHAR(128) ascii).
const TYPE_NAME = /^[A-Za-z0-9._:-]{1,128}$/;

/** The job types a deployment knows, by name. Checks each type's settings when it is registered. */
export class JobRegistry {
  readonly #types = new Map<string, JobType>();

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
   * The handler that may run longest: any type may go to any queue, so every lease and every run
   * must fit it. A type without a timeout of its own counts as `defaultMs`; with no types, `type`
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
