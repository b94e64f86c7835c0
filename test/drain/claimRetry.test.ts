import { describe, expect, it } from 'vitest';
import { DatabaseResumingError, DataApiUnavailableError, DeadlockError } from '../../lib/db/errors.js';
import { CLAIM_RETRY_DELAYS_MS, ClaimRetry } from '../../lib/drain/claimRetry.js';

const unanswered = () => new DataApiUnavailableError('the Data API did not answer');
/** Jitter at its top: each wait is its whole ceiling. */
const longest = () => 1;

describe('ClaimRetry', () => {
  it('claims again after each wait while the Data API does not answer, then gives up', () => {
    const retry = new ClaimRetry(longest);
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

  it('jitters each wait between half its ceiling and all of it', () => {
    const shortest = new ClaimRetry(() => 0);
    shortest.failed(unanswered(), 0);
    expect(shortest.msUntilClaim(0)).toBe(CLAIM_RETRY_DELAYS_MS[0]! / 2);
  });

  it('counts claims in flight together that one blip failed as one failure', () => {
    const retry = new ClaimRetry(longest);
    expect(retry.failed(unanswered(), 0)).toBe(true);
    // Five more claims sent before it fail while the lane waits: none counts, none stops the lane.
    for (let i = 1; i <= 5; i++) expect(retry.failed(unanswered(), i * 10)).toBe(true);
    expect(retry.msUntilClaim(50)).toBe(CLAIM_RETRY_DELAYS_MS[0]! - 50);
    // The next claim, sent after the wait, fails: the second wait.
    expect(retry.failed(unanswered(), CLAIM_RETRY_DELAYS_MS[0]!)).toBe(true);
    expect(retry.msUntilClaim(CLAIM_RETRY_DELAYS_MS[0]!)).toBe(CLAIM_RETRY_DELAYS_MS[1]);
  });

  it('starts from the shortest wait again once a claim lands', () => {
    const retry = new ClaimRetry(longest);
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
