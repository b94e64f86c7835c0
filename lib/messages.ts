/** Following a message after enqueue: its status, and cancelling it (before it starts, or while it runs). */
import type { CancelView, MessageView } from '../schema/messages.js';
import type { App } from './app.js';
import { declaredQueue } from './enqueue.js';
import { ConflictError, NotFoundError } from './errors.js';
import { isUuid } from './ids.js';
import { requestCancel } from './sql/requestCancel.js';
import { cancelMessage as cancelStoredMessage, findByDedupKeys, getMessage, readPayloadText, type Message, type MessageOutputs } from './sql/index.js';
import { RESPONSE_PAGE_BYTES } from './sql/responseBytes.js';
import { traceIdOf } from './tracing.js';

export type { CancelView, MessageView } from '../schema/messages.js';

/** A message as the API shows it; absent optional fields are left out rather than null. Outputs show when they were read. */
export function toMessageView(message: Message & { outputs?: MessageOutputs; cancelRequested?: boolean }): MessageView {
  const traceId = traceIdOf(message.traceContext);
  return {
    id: message.id,
    queue: message.queue,
    type: message.type,
    status: message.status,
    priority: message.priority,
    attempts: message.attempts,
    maxAttempts: message.maxAttempts,
    availableAt: message.availableAt.toISOString(),
    createdAt: message.createdAt.toISOString(),
    updatedAt: message.updatedAt.toISOString(),
    ...(message.finishedAt ? { finishedAt: message.finishedAt.toISOString() } : {}),
    ...(message.lastError !== null ? { lastError: message.lastError } : {}),
    ...(message.dedupKey !== null ? { dedupKey: message.dedupKey } : {}),
    ...(message.groupKey !== null ? { groupKey: message.groupKey } : {}),
    ...(traceId === null ? {} : { traceId }),
    ...(message.outputs === undefined ? {} : outputsView(message.outputs)),
    ...(message.cancelRequested === true ? { cancelRequested: true } : {}),
  };
}

/** The stored JSON texts (written by the drain from JSON.stringify) as values. */
function outputsView(outputs: MessageOutputs): Pick<MessageView, 'result' | 'progress' | 'progressAt'> {
  return {
    ...(outputs.result === undefined ? {} : { result: JSON.parse(outputs.result) as unknown }),
    ...(outputs.progress === null ? {} : { progress: JSON.parse(outputs.progress) as unknown }),
    ...(outputs.progressAt === null ? {} : { progressAt: outputs.progressAt.toISOString() }),
  };
}

/** Throws NotFoundError for an unknown id. */
export async function getMessageStatus(app: App, id: string): Promise<MessageView> {
  const message = isUuid(id) ? await getMessage(app.db, id) : undefined;
  if (message === undefined) throw unknownMessage(id);
  return toMessageView(message);
}

/** A stored message's payload, read from its slices when it is too large for its row. */
export async function payloadOf(app: Pick<App, 'db'>, message: Message): Promise<unknown> {
  return message.payloadParts > 0 ? JSON.parse(await readPayloadText(app.db, message.id, RESPONSE_PAGE_BYTES)) : message.payload;
}

/** A message with its payload, for an operator looking into it. */
export interface MessageDetail extends MessageView {
  payload: unknown;
}

/** Throws NotFoundError for an unknown id. */
export async function getMessageDetail(app: App, id: string): Promise<MessageDetail> {
  const message = isUuid(id) ? await getMessage(app.db, id) : undefined;
  if (message === undefined) throw unknownMessage(id);
  return { ...toMessageView(message), payload: await payloadOf(app, message) };
}

/**
 * The message a dedup key names in a queue (keys are unique per queue while the message is kept).
 * Throws NotFoundError for an undeclared queue or a key no kept message has.
 */
export async function findMessageByDedupKey(app: App, queue: string, dedupKey: string): Promise<MessageDetail> {
  declaredQueue(app, queue);
  const id = (await findByDedupKeys(app.db, queue, [dedupKey])).get(dedupKey);
  // Gone between the two reads (retention, a purge): as unknown as a key never used.
  const message = id === undefined ? undefined : await getMessage(app.db, id);
  if (message === undefined) throw new NotFoundError('unknown_message', `no message with dedup key "${dedupKey}" in queue ${queue}`, 'dedupKey');
  return { ...toMessageView(message), payload: await payloadOf(app, message) };
}

/**
 * Cancels a message: one no drainer has started (`waiting` or `retrying`) is cancelled at once;
 * for a `running` one a cancel is requested (lib/sql/requestCancel.ts), and answered with its
 * status (`running`) and `cancelRequested: true`: the drain running it aborts its handler's
 * signal within about a second and settles it `cancelled`, unless the handler finishes first
 * (its own outcome then stands). Throws NotFoundError for an unknown id, ConflictError carrying
 * the current status for a finished one. A cancelled message stays readable until retention
 * removes it.
 */
export async function cancelMessage(app: App, id: string): Promise<CancelView> {
  if (!isUuid(id)) throw unknownMessage(id);
  const now = app.clock.now();
  const cancelled = await cancelStoredMessage(app.db, id, now);
  const requested = !cancelled && (await requestCancel(app.db, id, now));
  // Read after the write either way: on success for the stored times, on refusal for the status
  // that refused it (which may have moved on since).
  const message = await getMessage(app.db, id);
  if (message === undefined) throw unknownMessage(id);
  if (requested) return { ...toMessageView(message), cancelRequested: true };
  if (!cancelled) {
    const why = message.status === 'cancelled' ? 'already cancelled' : `${message.status}; only waiting, retrying or running messages can be cancelled`;
    throw new ConflictError('not_cancellable', `message ${id} is ${why}`, { messageStatus: message.status });
  }
  return toMessageView(message);
}

function unknownMessage(id: string): NotFoundError {
  return new NotFoundError('unknown_message', `no message with id ${id}`, 'id');
}
