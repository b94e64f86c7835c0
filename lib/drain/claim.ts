import { randomUUID } from 'node:crypto';
import type { Db } from '../db/types.js';
import { claimBatch } from '../sql/claimBatch.js';
import { readPayloadText } from '../sql/payloadParts.js';
import { readClaimedMessages, type ClaimedMessage } from '../sql/readClaimedMessages.js';

/**
 * Payload bytes one read may carry. The Data API ends a call whose response passes 1 MiB, and a
 * payload's JSON text can double when sent back as an escaped string value (quotes, backslashes),
 * so a page holds at most ~384 KiB of stored payload: under 800 KiB on the wire with row overhead.
 */
export const DEFAULT_MAX_PAGE_BYTES = 384 * 1024;

/** A claimed message with the lease it is held under. */
export interface HeldClaimedMessage extends ClaimedMessage {
  leaseToken: string;
  leaseUntilMs: number;
}

export interface Claim {
  leaseToken: string;
  leaseUntil: Date;
  /** Rows the claim statement leased. */
  claimed: number;
  /** The leased messages as read back (normally all of them). */
  messages: HeldClaimedMessage[];
}

export interface ClaimInput {
  queue: string;
  limit: number;
  now: Date;
  leaseMs: number;
  maxPageBytes?: number;
}

/**
 * Leases up to `limit` due messages (one call) and reads them back in pages bounded by payload
 * bytes (one call unless the payloads are large). No read is made when nothing was claimed.
 */
export async function claimMessages(db: Db, input: ClaimInput): Promise<Claim> {
  const leaseToken = randomUUID();
  const leaseUntil = new Date(input.now.getTime() + input.leaseMs);
  const claimed = await claimBatch(db, { queue: input.queue, limit: input.limit, leaseToken, now: input.now, leaseUntil });
  const messages: HeldClaimedMessage[] = [];
  let afterId: string | undefined;
  const maxBytes = input.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
  while (messages.length < claimed) {
    const page = await readClaimedMessages(db, { leaseToken, afterId, maxBytes });
    if (page.length === 0) break;
    for (const message of page) messages.push({ ...message, leaseToken, leaseUntilMs: leaseUntil.getTime() });
    afterId = page[page.length - 1]!.id;
  }
  // Payloads too large for their rows, slice by slice (a few calls per MiB, only for those).
  for (const message of messages) {
    if (message.payloadParts > 0) message.payload = JSON.parse(await readPayloadText(db, message.id, maxBytes));
  }
  return { leaseToken, leaseUntil, claimed, messages };
}
