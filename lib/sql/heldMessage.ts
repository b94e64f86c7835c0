/** A claimed message and the lease it was claimed under: what every write after a claim presents. */
export interface HeldMessage {
  id: string;
  leaseToken: string;
  /**
   * The attempts counted, this one included, when the outcome's write is to store them: a FIFO
   * follower's attempt is counted when it runs, not at claim (lib/sql/claimGroupHeads.ts). Omitted:
   * the stored count stands.
   */
  attempts?: number;
}
