import type { ClaimedMessage } from '../sql/readClaimedMessages.js';
import { HeadCandidates } from './claim.js';

/** How soon a FIFO lane that found fewer heads than it asked for looks again, at the latest. */
export const FIFO_HEADS_POLL_MS = 50;

/** What a FIFO message's written outcome (or its write given up) lets the lane do (FifoHeads.written). */
export type AfterHead =
  /** The head is done or dead in the database: its follower may start. */
  | 'start-follower'
  /** The head's write was given up: the lease ends for both, and the head comes first again. */
  | 'drop-follower'
  /** Its group's next message may lead now: claim again now rather than at the next poll. */
  | 'claim-now';

/**
 * When a FIFO lane claims heads again. While the run holds messages of a FIFO queue, their
 * groups' next messages lead only once their outcomes are written: after a claim it looks again
 * then, or shortly (other groups, other drains), not at once (the claim just took every head
 * there was, or a full batch of them). It keeps the head candidates left from the last read
 * (HeadCandidates, lib/drain/claim.ts), which the claims use. Pure: the lane claims and starts.
 */
export class FifoHeads {
  /** The head candidates left from the last read: passed to every claim. */
  readonly candidates = new HeadCandidates();
  /** No claim before this time, unless one of this run's outcomes is written first (a group may then have a new head). */
  #waitUntilMs = 0;

  /** How long from `nowMs` until the lane may claim heads again (none when not positive). */
  msUntilClaim(nowMs: number): number {
    return this.#waitUntilMs - nowMs;
  }

  /** A claim landed at `nowMs` while the run holds messages of the queue: look again shortly, not at once. */
  claimedWhileHolding(nowMs: number): void {
    this.#waitUntilMs = nowMs + FIFO_HEADS_POLL_MS;
  }

  /**
   * A message's outcome write ended: written (`landed`) or given up. A head's follower starts once
   * the head's outcome is in the database, and is dropped if the write was given up, since the
   * head would then run again. Any other outcome written may have let its group's next message
   * lead: claim again now.
   */
  written(message: ClaimedMessage, landed: boolean, hasFollower: boolean): AfterHead {
    if (hasFollower) return landed ? 'start-follower' : 'drop-follower';
    // The last message of its group this run held is finished: the one after it leads now.
    if (landed) this.candidates.finished(message);
    this.#waitUntilMs = 0;
    return 'claim-now';
  }
}
