import { randomUUID } from 'node:crypto';
import { DataApiUnavailableError } from '../db/errors.js';
import type { Db } from '../db/types.js';
import { claimBatch } from '../sql/claimBatch.js';
import { claimGroupHeads, findGroupHeads, type GroupHead } from '../sql/claimGroupHeads.js';
import { ensureGroupSlotsOnce } from '../sql/groupSlots.js';
import { ensureOnce } from '../sql/ensureOnce.js';
import {
  claimFairMessages,
  claimGroupMessages,
  ensureGroupPermits,
  ensureGroups,
  extendGroupRatePermits,
  findGroupCandidates,
  type GroupCandidate,
} from '../sql/groupLimits.js';
import type { Vouch } from './rateStarts.js';
import { ensurePermits, extendRatePermits, returnUnusedPermits, takePermits, type PermitLimits } from '../sql/permits.js';
import { declaresGroupLimits, type GroupLimits } from '../queues.js';
import { readPayloadText } from '../sql/payloadParts.js';
import { readClaimedMessages, type ClaimedMessage } from '../sql/readClaimedMessages.js';
import { RESPONSE_PAGE_BYTES, ROW_OVERHEAD_BYTES, TEXT_BYTES_PER_BYTE } from '../sql/responseBytes.js';
import { ENQUEUE_LIMITS } from '../../schema/messages.js';

/**
 * What one read's rows may take in the response, counted at their worst case (payloads at 3 bytes
 * per stored byte, text at 6, 1 KiB per row: lib/sql/responseBytes.ts): the Data API's 1 MiB less
 * room for the response's envelope.
 */
export const DEFAULT_MAX_PAGE_BYTES = RESPONSE_PAGE_BYTES;

/** A claimed message with the lease it is held under. */
export interface HeldClaimedMessage extends ClaimedMessage {
  leaseToken: string;
  leaseUntilMs: number;
  /**
   * Under a queue-wide rate or its group's: not to start before this time (see
   * RATE_START_DELAY_MS), so that the uses of one rate permit are a full window apart however long
   * each claim's round trips took.
   */
  notBeforeMs?: number;
}

/**
 * How long after its rate permit was taken a message starts. A permit is free again a window
 * after it was taken; were each message to start as soon as its claim's reads return, a permit
 * used late by one claim (slow round trips) and early by the next would start two messages less
 * than a window apart. Starting every message this fixed time after its permit keeps the window
 * whole for any claim whose round trips take less (the delay is the price: rate-limited queues
 * only, and they wait for permits anyway).
 */
export const RATE_START_DELAY_MS = 150;

export interface Claim {
  leaseToken: string;
  leaseUntil: Date;
  /** Rows the claim statement leased. */
  claimed: number;
  /**
   * With queue-wide limits: the messages the permits allowed (at most the limit asked for). A
   * claim that got fewer permits than it asked for was held back by the limits, not by the queue.
   */
  permitted?: number;
  /** The leased messages as read back (normally all of them). */
  messages: HeldClaimedMessage[];
  /**
   * A grouped queue: due messages were there that their groups' limits held back (concurrency,
   * rate, or another drain claiming from the group at that moment): the queue is not dry.
   */
  throttled?: boolean;
  /** A grouped queue: the messages that took a rate permit of their group (their group has a rate). */
  groupRated?: number;
  /** A grouped claim that read its candidates: whether a group of the queue has a concurrency or rate override. */
  groupsOverridden?: boolean;
}

export interface ClaimInput {
  queue: string;
  limit: number;
  now: Date;
  leaseMs: number;
  maxPageBytes?: number;
  /**
   * A FIFO queue: claim the due heads of up to `limit` groups (lib/sql/claimGroupHeads.ts) and,
   * without queue-wide limits, each head's follower: up to twice `limit` messages.
   */
  fifo?: boolean;
  /** Queue-wide limits: take permits first, claim no more than they allow. */
  permits?: PermitLimits;
  /** A FIFO lane's unused head candidates, tried before reading the heads again. */
  heads?: HeadCandidates;
  /** A queue with per-group limits (lib/sql/groupLimits.ts). */
  groups?: GroupLimits;
  /** A grouped lane's last candidates read found a group of the queue with an override (Claim.groupsOverridden). */
  groupsOverridden?: boolean;
}

/**
 * A fair queue without per-group limits or queue-wide ones claims in one statement
 * (claimFairMessages) while none of its groups has an override; when that takes nothing, the
 * two-statement grouped claim runs, and its read says whether overrides exist
 * (Claim.groupsOverridden). The lane passes that on to its next claims, so a queue with overrides
 * does not pay the one-statement try on every claim.
 */
function claimsInOneStatement(input: ClaimInput): boolean {
  const groups = input.groups;
  return groups?.fair === true && !declaresGroupLimits(groups) && input.permits === undefined && input.groupsOverridden !== true;
}

/** Permit rows are added once per process and limits, and looked for again every 5 minutes. */
async function ensurePermitsOnce(db: Db, queue: string, limits: PermitLimits, now: Date): Promise<void> {
  const key = `permits\u0000${queue}\u0000${limits.rate?.slots ?? 0}\u0000${limits.run?.slots ?? 0}`;
  await ensureOnce(db, { key, now, recheckMs: 5 * 60_000 }, () => ensurePermits(db, { queue, limits, now }));
}

/**
 * Leases up to `limit` due messages (one call) and reads them back in pages bounded by their
 * worst-case size in the response (one call unless the payloads are large). No read is made when
 * nothing was claimed (unless the claim's answer was lost: see Lease). A queue with queue-wide
 * limits takes its permits first (one call more) and gives back what the claim could not use (only
 * when the queue had fewer due messages than permits, or the claim failed).
 */
export async function claimMessages(db: Db, input: ClaimInput): Promise<Claim> {
  const leaseToken = randomUUID();
  const leaseUntil = new Date(input.now.getTime() + input.leaseMs);
  if (claimsInOneStatement(input)) {
    const lease = await leaseOrLoseReply(() => claimFairMessages(db, { queue: input.queue, limit: input.limit, leaseToken, now: input.now, leaseUntil }));
    if (lease.lost !== undefined || lease.leased > 0) {
      const messages = await readLeased(db, input, lease, { leaseToken, leaseUntil, startOf: () => undefined });
      return { leaseToken, leaseUntil, claimed: messages.length, throttled: false, groupRated: 0, messages };
    }
  }
  let limit = input.limit;
  let permitted: number | undefined;
  // A FIFO queue's heads first: permits are taken only for heads there are to claim.
  const heads = input.fifo === true ? await dueHeads(db, input) : undefined;
  if (heads !== undefined) {
    if (heads.length === 0) return { leaseToken, leaseUntil, claimed: 0, messages: [] };
    if (input.permits !== undefined) limit = Math.min(limit, heads.length);
  }
  // A grouped queue's candidates first, as a FIFO queue's heads: permits only for what there is.
  const groups = input.groups === undefined ? undefined : await groupCandidates(db, input, input.groups);
  const overrides = groups === undefined ? {} : { groupsOverridden: groups.overridden };
  if (groups !== undefined) {
    if (groups.candidates.length === 0) return { leaseToken, leaseUntil, claimed: 0, throttled: groups.heldBack, ...overrides, messages: [] };
    if (input.permits !== undefined) limit = Math.min(limit, groups.candidates.length);
  }
  // Messages that took a rate permit (the queue's, or their group's) start a fixed delay after it.
  const startMs = input.now.getTime() + RATE_START_DELAY_MS;
  const startOf = (message: ClaimedMessage): number | undefined =>
    input.permits?.rate !== undefined || (message.groupKey !== null && groups?.ratedGroups.has(message.groupKey) === true) ? startMs : undefined;
  // Best effort: a permit not given back frees itself when its window or the lease ends.
  const giveBack = async (keep: number) => {
    await returnUnusedPermits(db, { queue: input.queue, leaseToken, keep, now: input.now }).catch(() => {});
  };
  if (input.permits !== undefined) {
    await ensurePermitsOnce(db, input.queue, input.permits, input.now);
    try {
      permitted = await takePermits(db, { queue: input.queue, limits: input.permits, want: limit, leaseToken, now: input.now, leaseUntil });
    } catch (error) {
      // Its answer lost, the take may have run: what it took under this token goes back.
      await giveBack(0);
      throw error;
    }
    if (permitted === 0) return { leaseToken, leaseUntil, claimed: 0, permitted, ...overrides, messages: [] };
    limit = permitted;
  }
  let throttled: boolean | undefined;
  const giveBackUnused = async (keep: number) => {
    if (permitted !== undefined && keep < permitted) await giveBack(keep);
  };
  let lease: Lease;
  try {
    const claim = { queue: input.queue, limit, leaseToken, now: input.now, leaseUntil };
    lease = await leaseOrLoseReply(async () => {
      if (groups !== undefined) {
        const leased = await claimGroupMessages(db, { ...claim, ...groups.limits, candidates: groups.candidates });
        // Rows changed are the messages and the rate permits they took (one each where rated). With
        // rated and unrated groups mixed this is an upper bound: the read-back stops at an empty page.
        return groups.everyGroupRated ? leased / 2 : leased;
      }
      // Followers only where no permits count messages: the permits allow `limit` messages, not heads.
      return heads !== undefined ? claimGroupHeads(db, { ...claim, heads, followers: permitted === undefined }) : claimBatch(db, claim);
    });
  } catch (error) {
    // The claim did not run, or may still be running (a statement timeout): it keeps none.
    await giveBackUnused(0);
    throw error;
  }
  // Known what it leased, the rest goes back before the read; its answer lost, once the read says.
  if (lease.lost === undefined) await giveBackUnused(lease.leased);
  let messages: HeldClaimedMessage[];
  try {
    messages = await readLeased(db, input, lease, { leaseToken, leaseUntil, startOf });
  } catch (error) {
    if (lease.lost !== undefined) await giveBackUnused(0);
    throw error;
  }
  if (lease.lost !== undefined) await giveBackUnused(messages.length);
  let claimed = lease.lost === undefined ? lease.leased : messages.length;
  if (input.fifo === true) {
    input.heads?.taken(messages);
  }
  if (groups !== undefined) {
    if (!groups.everyGroupRated) claimed = Math.min(claimed, messages.length);
    // Fewer than the candidates offered (and than asked for), or than asked for while groups at
    // their concurrency have due messages: the groups' limits held some back.
    throttled = claimed < Math.min(limit, groups.candidates.length) || (groups.heldBack && claimed < limit);
  }
  const groupRated = groups === undefined ? undefined : messages.filter((m) => m.groupKey !== null && groups.ratedGroups.has(m.groupKey)).length;
  return {
    leaseToken,
    leaseUntil,
    claimed,
    ...(permitted === undefined ? {} : { permitted }),
    ...(throttled === undefined ? {} : { throttled }),
    ...(groupRated === undefined ? {} : { groupRated }),
    ...overrides,
    messages,
  };
}

/**
 * What a claim statement leased: `leased` rows, or `lost` when its answer was lost after it was
 * sent (a 5xx, a network failure): it may have run, and the caller reads back by the claim's token
 * whatever it leased, which would otherwise wait out its lease with an attempt counted. When the
 * read finds none, the statement did not run or has not committed yet (those messages wait out
 * their lease, as before), and the claim fails.
 */
type Lease = { leased: number; lost?: undefined } | { lost: DataApiUnavailableError };

async function leaseOrLoseReply(statement: () => Promise<number>): Promise<Lease> {
  try {
    return { leased: await statement() };
  } catch (error) {
    if (error instanceof DataApiUnavailableError && error.requestMayHaveRun) return { lost: error };
    throw error;
  }
}

/** What the claim statement leased, read back by its token: as many as it said, or, its answer lost, all there are (none: the claim fails). */
async function readLeased(
  db: Db,
  input: ClaimInput,
  lease: Lease,
  claim: { leaseToken: string; leaseUntil: Date; startOf: (message: ClaimedMessage) => number | undefined },
): Promise<HeldClaimedMessage[]> {
  if (lease.lost === undefined) return readBack(db, input, { ...claim, claimed: lease.leased });
  const messages = await readBack(db, input, { ...claim, claimed: Number.POSITIVE_INFINITY });
  if (messages.length === 0) throw lease.lost;
  return messages;
}

/** The claim's messages by lease token, in pages, with payloads too large for their rows read slice by slice. */
async function readBack(
  db: Db,
  input: ClaimInput,
  claim: { leaseToken: string; leaseUntil: Date; claimed: number; startOf: (message: ClaimedMessage) => number | undefined },
): Promise<HeldClaimedMessage[]> {
  const { leaseToken, leaseUntil } = claim;
  const messages: HeldClaimedMessage[] = [];
  let afterId: string | undefined;
  const maxBytes = input.maxPageBytes ?? DEFAULT_MAX_PAGE_BYTES;
  while (messages.length < claim.claimed) {
    const page = await readClaimedMessages(db, { leaseToken, afterId, maxBytes, groupNext: input.heads !== undefined });
    if (page.length === 0) break;
    for (const message of page) messages.push(held(message, leaseToken, leaseUntil.getTime(), claim.startOf(message)));
    afterId = page[page.length - 1]!.id;
  }
  // Payloads too large for their rows, slice by slice (a few calls per MiB, only for those).
  for (const message of messages) {
    if (message.payloadParts > 0) message.payload = JSON.parse(await readPayloadText(db, message.id, maxBytes));
  }
  return messages;
}

/**
 * A claim that reached its drain after its messages' start time keeps its rate permits (the
 * queue's and its groups') a window from their actual start, before they start (RateStarts'
 * vouch). Answers whether it still held all of them: if not, its messages must go back.
 */
export async function keepLateClaimPermits(db: Db, input: { queue: string; claim: Claim; queueRate: boolean; vouch: Vouch }): Promise<boolean> {
  const { queue, claim, vouch } = input;
  if (input.queueRate) {
    const held = await extendRatePermits(db, { queue, leaseToken: claim.leaseToken, freeAt: vouch.freeAt });
    if (held < claim.messages.length) return false;
  }
  if ((claim.groupRated ?? 0) > 0) {
    const held = await extendGroupRatePermits(db, { queue, leaseToken: claim.leaseToken, startAt: new Date(vouch.startByMs) });
    if (held < claim.groupRated!) return false;
  }
  return true;
}

/** A message read back with its lease: every field named, one object shape for every message (no spread). */
function held(message: ClaimedMessage, leaseToken: string, leaseUntilMs: number, notBeforeMs: number | undefined): HeldClaimedMessage {
  const { id, queue, type, payload, attempts, maxAttempts, priority, payloadParts, groupKey, traceContext, nextInGroup } = message;
  const result: HeldClaimedMessage = {
    id,
    queue,
    type,
    payload,
    attempts,
    maxAttempts,
    priority,
    payloadParts,
    groupKey,
    traceContext,
    leaseToken,
    leaseUntilMs,
  };
  if (nextInGroup !== undefined) result.nextInGroup = nextInGroup;
  if (notBeforeMs !== undefined) result.notBeforeMs = notBeforeMs;
  return result;
}

/**
 * Candidate heads read per claim, per head wanted: concurrent drains read the same candidates, and
 * each takes the first it can lock, so with a few more than it wants, the next drain finds free
 * ones after the heads the first holds (lib/sql/claimGroupHeads.ts).
 */
const HEAD_CANDIDATES_PER_CLAIM = 3;

/**
 * Most heads one read returns: each row carries a group key of up to 128 characters (512 bytes,
 * 6 response bytes each at worst) within the response page budget (lib/sql/responseBytes.ts).
 */
const MAX_HEADS_PER_READ = Math.floor(RESPONSE_PAGE_BYTES / (ROW_OVERHEAD_BYTES + TEXT_BYTES_PER_BYTE * 4 * ENQUEUE_LIMITS.maxGroupKeyChars));

/** The candidate heads a FIFO claim of `limit` heads reads (and offers): a few claims' worth, within one response. */
export function headCandidatesFor(limit: number): number {
  return Math.min(limit * HEAD_CANDIDATES_PER_CLAIM, MAX_HEADS_PER_READ);
}

/**
 * How long a lane's head candidates serve its claims before the heads are read again. Every claim
 * re-checks each candidate on its locked row, so a stale one is only passed over; what the age
 * bounds is how late a group the lane knows nothing of (newly due, or run by another drain) is
 * seen while the lane has candidates of its own.
 */
const HEAD_CANDIDATES_MAX_AGE_MS = 500;

/**
 * A lane's FIFO head candidates, one per group: what is left of its last read of the heads, and,
 * for each group whose last message the lane ran to done or dead, the message after it (the
 * group's head now, read with the claim: lib/sql/readClaimedMessages.ts). Claims are offered these
 * (each takes the first it can lock) until the read is HEAD_CANDIDATES_MAX_AGE_MS old or none are
 * left: a busy FIFO lane reads the heads a few times a second, not once a claim.
 */
export class HeadCandidates {
  #heads = new Map<string, GroupHead>();
  #readAtMs = Number.NEGATIVE_INFINITY;

  /** The candidates, if the last read is fresh enough and any are left; undefined to read again. */
  left(nowMs: number): GroupHead[] | undefined {
    if (this.#heads.size === 0 || nowMs - this.#readAtMs > HEAD_CANDIDATES_MAX_AGE_MS) return undefined;
    return [...this.#heads.values()];
  }

  read(heads: readonly GroupHead[], nowMs: number): void {
    this.#heads = new Map(heads.map((head) => [head.groupKey, head]));
    this.#readAtMs = nowMs;
  }

  /** A claim took these messages: their groups' candidates are used up. */
  taken(messages: readonly ClaimedMessage[]): void {
    for (const message of messages) if (message.groupKey !== null) this.#heads.delete(message.groupKey);
  }

  /**
   * This message, the last of its group the lane held, is written done or dead, and so is every
   * earlier one of its group: the message read after it leads its group now.
   */
  finished(message: ClaimedMessage): void {
    const [next, nextNext] = message.nextInGroup ?? [null, null];
    if (message.groupKey === null || next === null) return;
    this.#heads.set(message.groupKey, { id: next, groupKey: message.groupKey, nextId: nextNext });
  }
}

/**
 * A FIFO claim's candidates (lib/sql/claimGroupHeads.ts): what is left of the lane's last read, or
 * a plain read of the due heads (which also makes sure the queue's group slots exist).
 */
async function dueHeads(db: Db, input: ClaimInput): Promise<GroupHead[]> {
  const nowMs = input.now.getTime();
  const left = input.heads?.left(nowMs);
  if (left !== undefined) return left.slice(0, headCandidatesFor(input.limit));
  await ensureGroupSlotsOnce(db, { queue: input.queue, now: input.now });
  const heads = await findGroupHeads(db, { queue: input.queue, now: input.now, limit: headCandidatesFor(input.limit) });
  input.heads?.read(heads, nowMs);
  return heads;
}

/**
 * Not fair, of each group the claim looks at its first unfinished messages (in enqueue order): this many
 * per message it wants, plus GROUP_IN_FLIGHT_ALLOWANCE, since a group's first ones are usually in
 * flight (running, or waiting for a retry) and the claim must look past them to fill itself from
 * one group when it is the only one due. A group with more than that in flight at once and no
 * concurrency limit is claimed from more slowly, never stopped.
 */
const GROUP_LOOK_AHEAD = 4;
const GROUP_IN_FLIGHT_ALLOWANCE = 256;

/** What a grouped claim needs: its candidates and the limits it leases them under. */
interface GroupClaim {
  candidates: GroupCandidate[];
  /** Groups at their concurrency have due messages (the read leaves them out). */
  heldBack: boolean;
  /** A group of the queue has a concurrency or rate override. */
  overridden: boolean;
  limits: { concurrency: number | undefined; ratePerSecond: number | undefined; rateLimited: boolean };
  /** Every candidate's group has a rate: each message leased takes one permit (rows = 2 per message). */
  everyGroupRated: boolean;
  /** The candidates' groups that have a rate: their messages take a permit each. */
  ratedGroups: Set<string>;
}

/**
 * A grouped claim's candidates (lib/sql/groupLimits.ts), with the group rows and rate permits
 * that are missing added first: a call each, only when a group is new, or its rate was raised.
 */
async function groupCandidates(db: Db, input: ClaimInput, groups: GroupLimits): Promise<GroupClaim> {
  const { candidates, heldBack, overridden } = await findGroupCandidates(db, {
    queue: input.queue,
    now: input.now,
    limit: Math.min(input.limit * HEAD_CANDIDATES_PER_CLAIM, MAX_HEADS_PER_READ),
    concurrency: groups.concurrency,
    ...(groups.fair === true ? { fair: true } : { fair: false, perGroup: input.limit * GROUP_LOOK_AHEAD + GROUP_IN_FLIGHT_ALLOWANCE }),
  });
  const unknown = new Set<string>();
  const permitsWanted = new Map<string, number>();
  const ratedGroups = new Set<string>();
  let everyGroupRated = true;
  for (const candidate of candidates) {
    if (!candidate.known) unknown.add(candidate.groupKey);
    const rate = candidate.ratePerSecond ?? groups.ratePerSecond;
    if (rate === undefined) {
      everyGroupRated = false;
      continue;
    }
    ratedGroups.add(candidate.groupKey);
    const slots = Math.ceil(rate);
    if (candidate.rateSlots < slots) permitsWanted.set(candidate.groupKey, slots);
  }
  await ensureGroups(db, { queue: input.queue, groups: [...unknown], now: input.now });
  await ensureGroupPermits(db, { queue: input.queue, groups: permitsWanted, now: input.now });
  const anyRated = ratedGroups.size > 0;
  return {
    candidates,
    heldBack,
    overridden,
    limits: { concurrency: groups.concurrency, ratePerSecond: groups.ratePerSecond, rateLimited: anyRated },
    everyGroupRated: anyRated && everyGroupRated,
    ratedGroups,
  };
}
