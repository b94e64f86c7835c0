import { describe, expect, it } from 'vitest';
import { DatabaseResumingError, DataApiUnavailableError, DeadlockError } from '../../lib/db/errors.js';
import { CLAIM_RETRY_DELAYS_MS, ClaimRetry } from '../../lib/drain/claimRetry.js';

const unanswered = () => new DataApiUnavailableError('the Data API did not answer');

describe('ClaimRetry', () => {
  it('claims again after each wait while the Data API does not answer, then gives up', () => {
    const retry = new ClaimRetry();
    expect(retry.msUntilClaim(0)).toBeLessThanOrEqual(0);
    let nowMs = 1_000;
    for (const waitMs of CLAIM_RETRY_DELAYS_MS) {
      expect(retry.failed(unanswered(), nowMs)).toBe(true);
      expect(retry.msUntilClaim(nowMs)).toBe(waitMs);
      nowMs += waitMs;
      expect(retry.msUntilClaim(nowMs)).toBe(0);
    }
    expect(retry.failed(unanswered(), nowMs)).toBe(false);
  });

  it('starts from the shortest wait again once a claim lands', () => {
    const retry = new ClaimRetry();
    expect(retry.failed(unanswered(), 0)).toBe(true);
    expect(retry.failed(unanswered(), 500)).toBe(true);
    retry.landed();
    expect(retry.msUntilClaim(600)).toBeLessThanOrEqual(0);
    expect(retry.failed(unanswered(), 600)).toBe(true);
    expect(retry.msUntilClaim(600)).toBe(CLAIM_RETRY_DELAYS_MS[0]);
  });

  it('stops at any other failure: SQL, a deadlock retried out, the cluster still resuming', () => {
    for (const error of [new Error('boom'), new DeadlockError('deadlock'), new DatabaseResumingError('resuming')]) {
      expect(new ClaimRetry().failed(error, 0)).toBe(false);
    }
  });
});
