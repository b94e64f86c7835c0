/** A claimed message and the lease it was claimed under: what every write after a claim presents. */
export interface HeldMessage {
  id: string;
  leaseToken: string;
}
