/**
 * The front door: validate messages against their queue and type (lib/enqueueChecks.ts), then
 * store a whole batch with one Data API call (lib/enqueueStore.ts). Validation lives here rather
 * than in the HTTP handler so that a library caller (the outbox, a script) is refused exactly as
 * an HTTP caller is.
 */
import { enqueueBatch, type EnqueueMessage, type EnqueuedMessage } from '../schema/messages.js';
import type { App } from './app.js';
import type { Db } from './db/types.js';
import { checkMessages, type CheckedMessage, type Checker, type Path } from './enqueueChecks.js';
import { insertChecked } from './enqueueStore.js';
import type { AnyJobType, PayloadInput } from './jobs/types.js';
import { NotFoundError, ValidationError } from './errors.js';
import type { QueueConfig } from './queues.js';
import { ensureGroupSlotsOnce, holdGroupSlots } from './sql/groupSlots.js';
import { issuesFromZod } from './validation.js';
import { inSendSpan, traceContextToStore, type SpanContext } from './tracing.js';

export type { CheckedMessage, Checker } from './enqueueChecks.js';
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
