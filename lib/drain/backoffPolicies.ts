import { resolveBackoff, type BackoffPolicy } from '../backoff.js';
import type { JobType } from '../jobs/types.js';

/**
 * A queue's retry backoff by job type: the type's policy over the queue's over the default
 * (resolveBackoff), resolved once per type, not once per retry.
 */
export class BackoffPolicies {
  readonly #queueBackoff: Partial<BackoffPolicy>;
  readonly #byType = new Map<string, BackoffPolicy>();

  constructor(queueBackoff: Partial<BackoffPolicy>) {
    this.#queueBackoff = queueBackoff;
  }

  /** The policy for a message of this type (undefined: a type not registered, which has the queue's). */
  policyFor(jobType: Pick<JobType, 'type' | 'backoff'> | undefined): BackoffPolicy {
    const key = jobType?.type ?? '';
    let policy = this.#byType.get(key);
    if (policy === undefined) {
      policy = resolveBackoff(this.#queueBackoff, jobType?.backoff);
      this.#byType.set(key, policy);
    }
    return policy;
  }
}
