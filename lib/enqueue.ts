/**
 * The front door: validate messages against their queue and type, then store a whole batch with
 * one Data API call. Validation lives here rather than in the HTTP handler so that a library
 * caller (the outbox, a script) is refused exactly as an HTTP caller is.
 */
import type { z } from 'zod';
import { ENQUEUE_LIMITS, enqueueBatch, enqueueMessage, type DedupRule, type EnqueueMessage, type EnqueuedMessage } from '../schema/messages.js';
import type { App } from './app.js';
import type { Db } from './db/types.js';
import type { AnyJobType, PayloadInput } from './jobs/types.js';
import { NotFoundError, QueueError, TooLargeError, ValidationError, type FieldIssue } from './errors.js';
import { uuidv7 } from './ids.js';
import type { QueueConfig } from './queues.js';
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
import { ensureGroupSlotsOnce, holdGroupSlots } from './sql/groupSlots.js';
import { walkPlainJson, type PlainJsonFault } from './plainJson.js';
import { formatPath, issuesFromZod } from './validation.js';
import { inSendSpan, traceContextToStore, type SpanContext } from './tracing.js';

export type { DedupRule, EnqueueMessage, EnqueuedMessage } from '../schema/messages.js';

/**
 * A message of one of the app's job types: its `type` names the type and its `payload` is checked
 * against that type's schema at compile time (and again at run time).
 */
export type MessageFor<J extends AnyJobType> = string extends J['type']
  ? EnqueueMessage // an App whose types are not known statically: checked at run time only
  : J extends AnyJobType
    ? Omit<EnqueueMessage, 'type' | 'payload'> & { type: J['type']; payload: PayloadInput<J> }
    : never;

export interface EnqueueOptions {
  /** Where to write; default `app.db`. A Db bound to a caller's transaction makes an outbox write. */
  db?: Db;
  /**
   * The trace context the request carried (lib/tracing.ts traceContextFromHeaders), stored with
   * each message; default: the caller's active span, if an OpenTelemetry SDK is registered.
   */
  traceContext?: SpanContext;
}

type Path = readonly PropertyKey[];

/**
 * Enqueues messages on a declared queue; answers one `{ id, duplicate }` per message, in order.
 * The batch is stored whole or not at all. Throws NotFoundError (unknown queue), ValidationError
 * (TooLargeError when only sizes are wrong) before anything is written.
 */
export async function enqueue<J extends AnyJobType>(
  app: App<J>,
  queue: string,
  messages: readonly MessageFor<J>[],
  options: EnqueueOptions = {},
): Promise<EnqueuedMessage[]> {
  const queueConfig = declaredQueue(app, queue);
  const batch = enqueueBatch.safeParse({ messages });
  if (!batch.success) throw new ValidationError(issuesFromZod(batch.error));
  return checkInsertAndWake(
    app,
    queueConfig,
    messages.map((value, index) => ({ value, path: ['messages', index] })),
    options,
  );
}

/**
 * Enqueues inside a Data API transaction the caller holds (from its own BeginTransaction): the
 * messages commit or roll back with the caller's business writes (the transactional outbox).
 * This never commits or rolls back; the transaction's owner does, then calls `wakeDrain(app,
 * queue)` for sub-second pickup. See examples/outbox.ts.
 */
export function enqueueInTransaction<J extends AnyJobType>(
  app: App<J>,
  transactionId: string,
  queue: string,
  messages: readonly MessageFor<J>[],
): Promise<EnqueuedMessage[]> {
  return enqueue(app, queue, messages, { db: app.db.withTransactionId(transactionId) });
}

/**
 * The HTTP body of POST /queues/{queue}/messages: one message, or `{ messages: [...] }`. Error
 * fields are named as they appear in that body (`payload.to` or `messages[3].payload.to`).
 */
export async function enqueueRequest(
  app: App,
  queue: string,
  body: unknown,
  options: EnqueueOptions = {},
): Promise<{ batch: boolean; messages: EnqueuedMessage[] }> {
  const queueConfig = declaredQueue(app, queue);
  if (isBatch(body)) {
    const batch = enqueueBatch.safeParse(body);
    if (!batch.success) throw new ValidationError(issuesFromZod(batch.error));
    const messages = await checkInsertAndWake(
      app,
      queueConfig,
      batch.data.messages.map((value, index) => ({ value, path: ['messages', index] })),
      options,
    );
    return { batch: true, messages };
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError([{ field: 'body', rule: 'invalid_type', message: 'must be a message object, or { "messages": [...] } for a batch' }]);
  }
  return { batch: false, messages: await checkInsertAndWake(app, queueConfig, [{ value: body, path: [] }], options) };
}

function isBatch(body: unknown): body is { messages: unknown } {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && 'messages' in body;
}

export function declaredQueue(app: Pick<App, 'queues'>, queue: string): QueueConfig {
  const config = app.queues.get(queue);
  if (config === undefined) {
    throw new NotFoundError('unknown_queue', `queue "${queue}" is not declared (declared: ${[...app.queues.keys()].join(', ')})`, 'queue');
  }
  return config;
}

/** What checking a message needs: the configured queues and types, and the time. No database. */
export type Checker = Pick<App, 'queues' | 'jobs' | 'clock'>;

/** A message checked against its queue and type (checkMessage), ready to insert. */
export interface CheckedMessage {
  message: NewMessage;
  /** What it adds to the ExecuteStatement request that inserts it (its batch must stay under 4 MiB). */
  requestBytes: number;
  /** Debounce or throttle on its dedupKey; absent: a stored key answers a plain duplicate. */
  dedup?: DedupRule;
}

/** A checked message in the batch being inserted. */
interface CheckedInBatch extends CheckedMessage {
  /** Set on a repeat of an earlier message's dedupKey in the same batch: that message's index. */
  sameAs: number | undefined;
}

/**
 * Checks one message (`{ type, payload, ... }`) for a declared queue and makes its row to insert,
 * without writing anything; throws the same refusals as an enqueue, with fields named from the
 * message (`payload.to`). For callers that gather messages of many callers into one insert.
 */
export async function checkMessage(app: Checker, queue: string, message: unknown): Promise<CheckedMessage> {
  // The context is the caller's, taken now: the batch it joins may be inserted by another caller.
  const [checked] = await checkMessages(app, declaredQueue(app, queue), [{ value: message, path: [] }], app.clock.now(), traceContextToStore(undefined));
  return checked!;
}

/**
 * Stores checked messages of one queue with one insert (plus one read when dedup keys hit stored
 * messages), whole or not at all, then wakes a drain. Answers in the order given.
 */
export async function insertCheckedAndWake(app: App, queue: string, checked: readonly CheckedMessage[]): Promise<EnqueuedMessage[]> {
  const queueConfig = declaredQueue(app, queue);
  const answers = await insertChecked(
    app,
    queueConfig,
    checked.map((p) => ({ ...p, sameAs: undefined })),
    app.db,
  );
  await wakeDrain(app, queueConfig.name, earliestDue(checked));
  return answers;
}

/**
 * Starts a drain for the queue unless one is polling it (lib/wake.ts); never throws. An enqueue
 * does this itself once it has committed; a caller of enqueueInTransaction calls it after its own
 * commit, since before then no drain could see the messages. Messages that all come due later
 * (`dueAt`, the earliest) set the queue's timed wake instead, where the deployment has one
 * (lib/timedWakes.ts): a drain started now would find nothing to do.
 */
export async function wakeDrain(app: App, queue: string, dueAt?: Date): Promise<void> {
  if (dueAt !== undefined && app.timedWakes !== undefined && dueAt.getTime() - app.clock.now().getTime() > WAKE_NOW_WITHIN_MS) {
    await app.timedWakes.ensure(queue, dueAt);
    return;
  }
  await app.waker?.wake(queue);
}

/**
 * Messages due within this are woken for at once: the started drain lingers and looks ahead for
 * them (lib/drain/lane.ts). Later ones get a timed wake.
 */
const WAKE_NOW_WITHIN_MS = 30_000;

function earliestDue(checked: readonly CheckedMessage[]): Date | undefined {
  let earliest: Date | undefined;
  for (const { message } of checked) if (earliest === undefined || message.availableAt < earliest) earliest = message.availableAt;
  return earliest;
}

/** Checks the messages, inserts them whole or not at all, then wakes a drain unless in a caller's transaction. */
async function checkInsertAndWake(
  app: App,
  queue: QueueConfig,
  inputs: readonly { value: unknown; path: Path }[],
  options: EnqueueOptions,
): Promise<EnqueuedMessage[]> {
  const { answers, dueAt } = await checkAndInsert(app, queue, inputs, options);
  // In a caller's transaction nothing is committed yet: the caller wakes after its commit.
  if (options.db === undefined) await wakeDrain(app, queue.name, dueAt);
  return answers;
}

/** Checks the messages and inserts them (a FIFO enqueue in a caller's transaction holds its groups first). */
async function checkAndInsert(
  app: App,
  queue: QueueConfig,
  inputs: readonly { value: unknown; path: Path }[],
  options: EnqueueOptions,
): Promise<{ answers: EnqueuedMessage[]; dueAt: Date | undefined }> {
  return inSendSpan(queue.name, inputs.length, options.traceContext, async (traceContext) => {
    if (queue.fifo && options.db?.transactionId !== undefined) await holdGroupsUntilCommit(app, queue, inputs, options.db);
    const checked = await checkMessages(app, queue, inputs, app.clock.now(), traceContext);
    return { answers: await insertChecked(app, queue, checked, options.db ?? app.db), dueAt: earliestDue(checked) };
  });
}

/**
 * In a caller's transaction, a FIFO enqueue first holds its groups' slots until the transaction
 * ends (lib/sql/groupSlots.ts): no claim takes a message of those groups meanwhile, so messages
 * enqueued into them after this one, by anyone, keep their place behind it however long the
 * transaction stays open, and every other group keeps running. Before the ids are made, so every
 * message of these groups with a later id waits. The slots must exist, committed, beforehand: they
 * are added outside the transaction (once per process).
 */
async function holdGroupsUntilCommit(app: App, queue: QueueConfig, inputs: readonly { value: unknown }[], tx: Db): Promise<void> {
  const groups = inputs.map(({ value }) => (value as { groupKey?: unknown } | null)?.groupKey).filter((key): key is string => typeof key === 'string');
  if (groups.length === 0) return;
  await ensureGroupSlotsOnce(app.db, { queue: queue.name, now: app.clock.now() });
  await holdGroupSlots(tx, { queue: queue.name, groups });
}

/** Inserts checked messages whole or not at all: with their slices, in one transaction. */
async function insertChecked(app: App, queue: QueueConfig, checked: CheckedInBatch[], db: Db): Promise<EnqueuedMessage[]> {
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

/** `text` in slices of at most `maxBytes` UTF-8 bytes, never splitting a character. */
function sliceUtf8(text: string, maxBytes: number): string[] {
  const slices: string[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < text.length;) {
    const code = text.codePointAt(i)!;
    const width = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    const units = code >= 0x10000 ? 2 : 1;
    if (bytes + width > maxBytes) {
      slices.push(text.slice(start, i));
      start = i;
      bytes = 0;
    }
    bytes += width;
    i += units;
  }
  slices.push(text.slice(start));
  return slices;
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

/**
 * Checks messages against their queue and type and makes their rows, ids included; throws every
 * refusal found (ValidationError, or TooLargeError when only sizes are wrong). Writes nothing.
 */
async function checkMessages(
  app: Checker,
  queue: QueueConfig,
  inputs: readonly { value: unknown; path: Path }[],
  now: Date,
  traceContext: string | null,
): Promise<CheckedInBatch[]> {
  const issues: FieldIssue[] = [];
  const sizeIssues: FieldIssue[] = [];
  const checked: CheckedInBatch[] = [];
  let requestBytes = 0;

  for (const { value, path } of inputs) {
    const parsed = enqueueMessage.safeParse(value);
    if (!parsed.success) {
      issues.push(...issuesFromZod(parsed.error, path));
      continue;
    }
    const message = parsed.data;
    const payloadPath = [...path, 'payload'];
    const jobType = app.jobs.get(message.type);
    if (jobType === undefined) {
      issues.push({
        field: formatPath([...path, 'type']),
        rule: 'unknown_type',
        message: `unknown message type "${message.type}" (registered: ${app.jobs.types().join(', ') || 'none'})`,
      });
      continue;
    }

    const json = checkJson(message.payload, payloadPath);
    if (json.issues.length > 0) {
      issues.push(...json.issues);
      continue;
    }
    const payloadCheck = await jobType.payload.safeParseAsync(message.payload);
    if (!payloadCheck.success) {
      issues.push(...issuesFromZod(payloadCheck.error, payloadPath));
      continue;
    }
    const payloadJson = JSON.stringify(message.payload);
    const textBytes = Buffer.byteLength(payloadJson, 'utf8');
    if (textBytes > ENQUEUE_LIMITS.maxPayloadBytes) {
      sizeIssues.push({
        field: formatPath(payloadPath),
        rule: 'max_bytes',
        message: `is ${textBytes} bytes of JSON; the limit is ${ENQUEUE_LIMITS.maxPayloadBytes} bytes (1 MiB) per message`,
      });
      continue;
    }
    // Too large for its row once MySQL re-serializes it: kept in slices of its exact text.
    const parts = textBytes + json.separators > ENQUEUE_LIMITS.maxInlinePayloadBytes ? sliceUtf8(payloadJson, ENQUEUE_LIMITS.payloadPartBytes) : undefined;

    if (queue.fifo && message.groupKey === undefined) {
      issues.push({
        field: formatPath([...path, 'groupKey']),
        rule: 'required',
        message: `is required: queue "${queue.name}" is a FIFO queue, whose messages run in order within their group`,
      });
      continue;
    }
    if (!queue.fifo && message.groupKey !== undefined) {
      issues.push({
        field: formatPath([...path, 'groupKey']),
        rule: 'not_fifo',
        message: `is only accepted by FIFO queues; queue "${queue.name}" is not one (declare it with fifo: true in queue.config.ts)`,
      });
      continue;
    }
    const availableAt =
      message.dedup?.mode === 'debounce' ? new Date(now.getTime() + message.dedup.seconds * 1_000) : resolveAvailableAt(message, now, path, issues);
    if (availableAt === undefined) continue;
    // The slices go in calls of their own; the message's insert carries only its row.
    const messageBytes = encodedRequestBytes(
      parts === undefined ? payloadJson : 'null',
      (message.dedupKey ?? '') + (message.groupKey ?? '') + (traceContext ?? ''),
    );
    requestBytes += messageBytes;
    checked.push({
      requestBytes: messageBytes,
      message: {
        id: uuidv7(now.getTime()),
        queue: queue.name,
        type: message.type,
        payloadJson: parts === undefined ? payloadJson : 'null',
        ...(parts === undefined ? {} : { parts }),
        priority: message.priority ?? 0,
        maxAttempts: message.maxAttempts ?? jobType.maxAttempts ?? queue.maxAttempts,
        availableAt,
        dedupKey: message.dedupKey ?? null,
        groupKey: message.groupKey ?? null,
        traceContext,
      },
      ...(message.dedup === undefined ? {} : { dedup: message.dedup }),
      sameAs: undefined,
    });
  }

  if (issues.length > 0) throw new ValidationError([...issues, ...sizeIssues]);
  if (sizeIssues.length > 0) throw new TooLargeError(sizeIssues);
  if (requestBytes > ENQUEUE_LIMITS.maxRequestBytes) {
    throw new TooLargeError([
      {
        field: inputs.length > 1 ? 'messages' : '',
        rule: 'max_request_bytes',
        message: `the batch would be ${requestBytes} bytes as one Data API request; the limit is 4 MiB (send fewer messages per request)`,
      },
    ]);
  }
  return checked;
}

function resolveAvailableAt(message: z.output<typeof enqueueMessage>, now: Date, path: Path, issues: FieldIssue[]): Date | undefined {
  if (message.availableAt === undefined) return new Date(now.getTime() + (message.delaySeconds ?? 0) * 1_000);
  const at = new Date(message.availableAt);
  const latest = now.getTime() + ENQUEUE_LIMITS.maxDelaySeconds * 1_000;
  if (at.getTime() > latest) {
    issues.push({
      field: formatPath([...path, 'availableAt']),
      rule: 'too_big',
      message: `must be at most ${ENQUEUE_LIMITS.maxDelaySeconds} seconds (365 days) from now`,
    });
    return undefined;
  }
  // A time in the past means now: an older available_at would jump ahead of messages already waiting.
  return at.getTime() < now.getTime() ? now : at;
}

/**
 * Checks that a payload is plain JSON that MySQL will store as given: no lone surrogates, no
 * numbers JSON cannot carry, no nesting past what MySQL and MariaDB accept. Also counts the
 * `,` and `:` separators, after each of which MySQL's JSON output adds a space.
 */
function checkJson(value: unknown, path: Path): { issues: FieldIssue[]; separators: number } {
  const issues: FieldIssue[] = [];
  let separators = 0;
  walkPlainJson(value, {
    maxDepth: ENQUEUE_LIMITS.maxPayloadDepth,
    onContainer: (kind, size) => {
      separators += (kind === 'object' ? size : 0) + Math.max(0, size - 1);
    },
    onFault: (fault, at, node) => {
      // Too deep is said of the whole payload.
      const issue = jsonIssue(fault, fault === 'max_depth' ? path : [...path, ...at], node);
      if (issue !== undefined) issues.push(issue);
      return issues.length < 5;
    },
  });
  return { issues, separators };
}

/** The issue a payload's fault makes; undefined for entries JSON.stringify drops or keeps as given. */
function jsonIssue(fault: PlainJsonFault, at: Path, node: unknown): FieldIssue | undefined {
  const field = formatPath(at);
  switch (fault) {
    case 'finite_number':
      return { field, rule: 'finite_number', message: 'must be a finite number' };
    case 'lone_surrogate':
      return { field, rule: 'unicode', message: 'must be valid Unicode (no lone surrogates)' };
    case 'lone_surrogate_key':
      return { field, rule: 'unicode', message: 'key must be valid Unicode (no lone surrogates)' };
    case 'not_json':
      return { field, rule: 'json', message: `must be a JSON value, got ${typeof node === 'object' ? 'a non-plain object' : typeof node}` };
    case 'max_depth':
      return { field, rule: 'max_depth', message: `nests arrays and objects more than ${ENQUEUE_LIMITS.maxPayloadDepth} levels deep` };
    default:
      return undefined;
  }
}

/*
 * What one message adds to the ExecuteStatement request: the batch travels as a JSON document in a
 * string parameter, so the payload's JSON text is escaped once inside that document and again by
 * the request's own JSON: every `"` and `\` of it becomes four bytes. The rest of the row (ids,
 * keys, numbers) is given a generous fixed allowance.
 */
function encodedRequestBytes(payloadJson: string, keys: string): number {
  let escaped = 0;
  for (let i = 0; i < payloadJson.length; i++) {
    const c = payloadJson.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) escaped += 1;
  }
  const keyBytes = Buffer.byteLength(keys, 'utf8') * 4;
  return Buffer.byteLength(payloadJson, 'utf8') + escaped * 3 + keyBytes + 512;
}
