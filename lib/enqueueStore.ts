/**
 * The enqueue pipeline's writes (lib/enqueue.ts): checked messages stored whole or not at all,
 * with their payload slices, dedup keys resolved (a plain duplicate, a debounce, a throttle).
 */
import { ENQUEUE_LIMITS, type EnqueuedMessage } from '../schema/messages.js';
import type { App } from './app.js';
import type { Db } from './db/types.js';
import { encodedRequestBytes, type CheckedInBatch } from './enqueueChecks.js';
import { QueueError } from './errors.js';
import { groupLimitsOf, type QueueConfig } from './queues.js';
import { withFairRounds } from './sql/fairRounds.js';
import {
  debounceWaiting,
  deletePayloadParts,
  findByDedupKeys,
  findDedupHolders,
  insertMessages,
  insertPayloadParts,
  releaseExpiredDedupKey,
  releaseStartedDedupKey,
  type DedupHolder,
  type NewMessage,
  type PayloadPart,
} from './sql/index.js';

/** Inserts checked messages whole or not at all: with their slices, in one transaction. */
export async function insertChecked(app: App, queue: QueueConfig, checked: CheckedInBatch[], db: Db): Promise<EnqueuedMessage[]> {
  // Messages with slices are written with them in one transaction (or the caller's), so a
  // message is never visible without its whole payload.
  const sliced = checked.some((item) => item.message.parts !== undefined);
  if (sliced && db.transactionId === undefined) return db.transaction((tx) => insertRowsAndSlices(app, queue, checked, tx));
  return insertRowsAndSlices(app, queue, checked, db);
}

/** Inserts the rows (a dedupKey repeated in the batch or already stored answers the first id), then their slices. */
async function insertRowsAndSlices(app: App, queue: QueueConfig, checked: CheckedInBatch[], db: Db): Promise<EnqueuedMessage[]> {
  const now = app.clock.now();

  // A dedupKey repeated within the batch is a duplicate of its first occurrence, decided here:
  // the insert would only count it, not say which message it repeated. A debounced repeat gives
  // that first occurrence its payload, due time and mode, as if enqueued after it: the last wins.
  const firstByKey = new Map<string, number>();
  for (const [index, item] of checked.entries()) {
    const key = item.message.dedupKey;
    if (key === null) continue;
    const first = firstByKey.get(key);
    if (first === undefined) {
      firstByKey.set(key, index);
      continue;
    }
    item.sameAs = first;
    if (item.dedup?.mode === 'debounce') {
      const head = checked[first]!;
      head.message = { ...item.message, id: head.message.id };
      head.dedup = item.dedup;
    }
  }

  const inserted = checked.filter((item) => item.sameAs === undefined);
  if (groupLimitsOf(queue)?.fair === true) {
    const rounded = await withFairRounds(
      db,
      queue.name,
      inserted.map((item) => item.message),
      now,
    );
    for (const [index, item] of inserted.entries()) item.message = rounded[index]!;
  }
  const { existingIdOf: stored, debounced, unsliced } = await insertResolvingDuplicates(db, queue.name, inserted, now);
  // Slices for messages this insert stored (a duplicate's payload is the stored message's), and
  // new slices for waiting messages a debounce gave a large payload, in place of their old ones.
  // Old slices of a payload now in its row go too (nothing reads them once payload_parts is 0).
  for (const id of [...debounced.map((message) => message.id), ...unsliced]) await deletePayloadParts(db, id);
  await insertSlices(db, [...inserted.map((item) => item.message).filter((message) => message.parts !== undefined && !stored.has(message.id)), ...debounced]);
  const answers: EnqueuedMessage[] = checked.map((item) => {
    const id = stored.get(item.message.id) ?? item.message.id;
    return { id, duplicate: id !== item.message.id };
  });
  for (const [index, item] of checked.entries()) {
    if (item.sameAs !== undefined) answers[index] = { id: answers[item.sameAs]!.id, duplicate: true };
  }
  return answers;
}

/** Every slice of the given messages, in calls that each stay under the Data API's request limit. */
async function insertSlices(db: Db, messages: readonly NewMessage[]): Promise<void> {
  let call: PayloadPart[] = [];
  let bytes = 0;
  for (const message of messages) {
    for (const [part, data] of (message.parts ?? []).entries()) {
      const size = encodedRequestBytes(data, '');
      if (call.length > 0 && bytes + size > ENQUEUE_LIMITS.maxRequestBytes) {
        await insertPayloadParts(db, call);
        call = [];
        bytes = 0;
      }
      call.push({ messageId: message.id, part, data });
      bytes += size;
    }
  }
  await insertPayloadParts(db, call);
}

/** What inserting a batch with its dedup keys resolved did, beyond inserting messages as given. */
interface Resolved {
  /** For each message that hit a stored dedupKey, the id it is answered by (a duplicate). */
  existingIdOf: Map<string, string>;
  /** Large payloads a debounce gave waiting messages, under those messages' ids: their slices are to be replaced. */
  debounced: NewMessage[];
  /** Messages a debounce gave a payload in the row in place of one in slices: their old slices are to go. */
  unsliced: string[];
}

/**
 * Inserts in one call; answers, for each message that hit a stored dedupKey, the id it hit. Only
 * when the insert reports duplicates does a second call read those ids: the unique key decided
 * any race, so every racer reads back the same winner. A key whose message vanished between the
 * two calls (retention deleted it) is free again, so that message is inserted once more.
 *
 * A debounced or throttled hit goes on (resolveHit): it updates the waiting message it hit, or
 * frees the key for a new message, which is then inserted in the next round. Freeing and
 * inserting are two statements, and the unique key still lets only one racer's insert in; the
 * others hit it in their next round. Each round settles the messages it inserted or updated, or
 * sees a racer's new message, so a few rounds settle any race.
 */
async function insertResolvingDuplicates(db: Db, queue: string, items: readonly CheckedInBatch[], now: Date): Promise<Resolved> {
  const resolved: Resolved = { existingIdOf: new Map(), debounced: [], unsliced: [] };
  let pending = items;
  for (let round = 0; round < MAX_INSERT_ROUNDS && pending.length > 0; round++) {
    const { duplicates } = await insertMessages(
      db,
      pending.map((item) => item.message),
      now,
    );
    if (duplicates === 0) return resolved;
    const keyed = pending.filter((item) => item.message.dedupKey !== null);
    const keys = keyed.map((item) => item.message.dedupKey!);
    // The plain read (a covering index) unless a debounce or throttle needs the holder's state.
    const found: Map<string, DedupHolder | { id: string }> = keyed.some((item) => item.dedup !== undefined)
      ? await findDedupHolders(db, queue, keys)
      : new Map([...(await findByDedupKeys(db, queue, keys))].map(([key, id]) => [key, { id }]));
    const unresolved: CheckedInBatch[] = [];
    for (const item of keyed) {
      const holder = found.get(item.message.dedupKey!);
      if (holder === undefined) unresolved.push(item);
      else if (holder.id === item.message.id) continue;
      else if (!('status' in holder) || item.dedup === undefined) resolved.existingIdOf.set(item.message.id, holder.id);
      else if (!(await resolveHit(db, item, holder, now, resolved))) unresolved.push(item);
    }
    pending = unresolved;
  }
  if (pending.length > 0) throw new QueueError('dedupKey could not be resolved: its message kept changing under concurrent enqueues', { retryable: true });
  return resolved;
}

const MAX_INSERT_ROUNDS = 8;

/**
 * A debounced or throttled message whose key `holder` holds: true when it is answered by the
 * holder (a duplicate, or a debounce that updated it), false when it is to be inserted in the
 * next round (the key was freed for it, or a racer changed the holder).
 */
async function resolveHit(db: Db, item: CheckedInBatch, holder: DedupHolder, now: Date, resolved: Resolved): Promise<boolean> {
  const { message, dedup } = item;
  const key = { id: holder.id, queue: message.queue, dedupKey: message.dedupKey! };
  if (dedup?.mode === 'debounce') {
    if (holder.status === 'waiting' && (await debounceWaiting(db, holder.id, message, now))) {
      resolved.existingIdOf.set(message.id, holder.id);
      if (message.parts !== undefined) resolved.debounced.push({ ...message, id: holder.id });
      else if (holder.payloadParts > 0) resolved.unsliced.push(holder.id);
      return true;
    }
    // Claimed, retrying or finished: whether this call or a racer frees the key, it is free now
    // unless a racer's new message took it, which the next round debounces into.
    await releaseStartedDedupKey(db, key);
    return false;
  }
  const windowStart = new Date(now.getTime() - dedup!.seconds * 1_000);
  if (holder.createdAt > windowStart) {
    resolved.existingIdOf.set(message.id, holder.id);
    return true;
  }
  // Past its window: freed by this call or a racer; the next round inserts, or finds the racer's.
  await releaseExpiredDedupKey(db, { ...key, windowStart });
  return false;
}
