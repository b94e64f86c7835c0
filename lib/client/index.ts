/**
 * The producer side: a client typed by the team's queue.config.ts, over one of two transports
 * with the same interface.
 *   - direct: through the Data API with the caller's own credentials (a service that owns the
 *     cluster), with auto-batching of concurrent single enqueues and enqueueInTransaction;
 *   - http: to the deployed API, signed with SigV4 by the SDK's signer.
 * Both check every message against its queue and type before anything is sent, so bad input
 * fails with the field and rule the API would name, without a network call.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { GroupLimitsChange, GroupList, GroupView } from '../../schema/groups.js';
import type { CancelView, DedupRule, MessageView } from '../../schema/messages.js';
import { createApp, type App } from '../app.js';
import type { QueueAppConfig } from '../config.js';
import type { Db } from '../db/types.js';
import { createDb } from '../db/index.js';
import { enqueue as enqueueMessages, enqueueInTransaction, checkMessage, wakeDrain, type EnqueuedMessage, type MessageFor } from '../enqueue.js';
import { ConflictError, NotFoundError, QueueError, TooLargeError, ValidationError, type FieldIssue } from '../errors.js';
import { checkedGroup, checkGroupLimitsChange, checkGroupListLimit, groupedQueue, listGroups, pauseGroup, resumeGroup, setGroupLimits } from '../groups.js';
import { JobRegistry } from '../jobs/JobRegistry.js';
import type { AnyJobType, PayloadInput, ResultOf } from '../jobs/types.js';
import { cancelMessage, getMessageStatus } from '../messages.js';
import { resolveQueues } from '../queues.js';
import { systemClock } from '../clock.js';
import { activeSpanContext, traceHeaders } from '../tracing.js';
import { AutoBatcher } from './AutoBatcher.js';
import { apiGatewaySigner } from './sigv4.js';
import { systemWaitTime, waitForMessage, type WaitForOptions, type WaitTime } from './waitFor.js';

export { WaitTimeoutError, type WaitForOptions, type WaitTime } from './waitFor.js';
export type { GroupLimitsChange, GroupList, GroupView };

/** Everything of a message but its type and payload; `queue` defaults to `default`. */
export interface SendOptions {
  queue?: string;
  delaySeconds?: number;
  availableAt?: string;
  priority?: number;
  maxAttempts?: number;
  dedupKey?: string;
  /**
   * With a dedupKey: `debounce` gives a waiting message with the key this payload and moves it to
   * `seconds` from now (the last one wins); `throttle` answers repeats as duplicates for `seconds`
   * after the first. Without it, a stored key answers a duplicate while the message is kept.
   */
  dedup?: DedupRule;
  /**
   * The message's group: required by FIFO queues (its messages run one at a time, in the order this
   * client enqueued them) and by queues with groups (per-group limits and fairness), refused elsewhere.
   */
  groupKey?: string;
}

export type PayloadOf<J extends AnyJobType, T extends string> = PayloadInput<Extract<J, { type: T }>>;

/**
 * A message as `get` and `waitFor` show it, its `result` typed by its job type's handler: one member
 * per type of the config, told apart by `type` (`if (view.type === 'sms.send') view.result`), or
 * the one type named, as in `client.waitFor<'sms.send'>(id, ...)`. Naming a type is the caller's
 * word for what the id is: nothing checks it at run time, so narrowing by `type` is the safe way.
 */
export type MessageViewOf<J extends AnyJobType, T extends string = J['type']> = T extends J['type']
  ? Omit<MessageView, 'type' | 'result'> & { type: T; result?: ResultOf<Extract<J, { type: T }>> }
  : never;

export interface QueueClient<J extends AnyJobType> {
  /** One message; its payload is checked against its type at compile time and before sending. */
  enqueue<T extends J['type']>(type: T, payload: PayloadOf<J, T>, options?: SendOptions): Promise<EnqueuedMessage>;
  /** Up to 500 messages to one queue, stored whole or not at all. */
  enqueueMany(messages: readonly MessageFor<J>[], options?: { queue?: string }): Promise<EnqueuedMessage[]>;
  get<T extends J['type'] = J['type']>(id: string): Promise<MessageViewOf<J, T>>;
  /**
   * Polls the message (about 50 ms, doubling to 1 s, jittered) until it is done, dead or
   * cancelled, and answers it then; rejects with a WaitTimeoutError once `timeoutMs` has passed,
   * or with the signal's reason when it aborts. A dead message resolves too: look at `status`.
   */
  waitFor<T extends J['type'] = J['type']>(id: string, options: WaitForOptions): Promise<MessageViewOf<J, T>>;
  /** Cancels a waiting or retrying message; a running one is asked to stop (`cancelRequested`: it ends cancelled unless its handler finishes first). */
  cancel(id: string): Promise<CancelView>;
  /**
   * A queue with per-group limits (`groups` in queue.config.ts): the `limit` groups (default 20, at
   * most 100) with the most unfinished messages, and the groups paused or with limits of their own.
   */
  listGroups(queue: string, options?: { limit?: number }): Promise<GroupList>;
  /** A group's own concurrency and/or rate: a number sets it, null gives it the queue's back, absent leaves it. */
  setGroupLimits(queue: string, groupKey: string, change: GroupLimitsChange): Promise<GroupView>;
  /** Drains start none of the group's messages until it is resumed; running ones finish, enqueues go on. */
  pauseGroup(queue: string, groupKey: string): Promise<GroupView>;
  resumeGroup(queue: string, groupKey: string): Promise<GroupView>;
  /** Sends what auto-batching still holds and releases the client. */
  close(): Promise<void>;
}

export interface DirectQueueClient<J extends AnyJobType> extends QueueClient<J> {
  /**
   * Messages written inside the caller's own Data API transaction (the outbox): they commit or roll
   * back with it. Call `afterCommit(queue)` once committed, so a drain picks them up at once.
   */
  enqueueInTransaction(transactionId: string, messages: readonly MessageFor<J>[], options?: { queue?: string }): Promise<EnqueuedMessage[]>;
  afterCommit(queue?: string): Promise<void>;
}

export interface DirectOptions<J extends AnyJobType> {
  transport: 'direct';
  config: QueueAppConfig<J>;
  /** The cluster: `{ resourceArn, secretArn, database }` (plus `endpoint` for the local server), or a Db. */
  database: Db | { resourceArn: string; secretArn: string; database: string; endpoint?: string; region?: string };
  /** How long a single enqueue waits for others to share its insert; 0 sends each alone. Default 5 ms. */
  lingerMs?: number;
  /** Drain-wide defaults and the drain function to wake, as the handlers read them; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** waitFor's clock, sleep and jitter; for tests. */
  time?: WaitTime;
}

export interface HttpOptions<J extends AnyJobType> {
  transport: 'http';
  config: QueueAppConfig<J>;
  /** The deployed HTTP API, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com */
  baseUrl: string;
  region: string;
  /** Default: the AWS SDK's credential chain (environment, profile, SSO, instance role). */
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  fetch?: typeof fetch;
  /** waitFor's clock, sleep and jitter; for tests. */
  time?: WaitTime;
}

export function createQueueClient<J extends AnyJobType>(options: DirectOptions<J>): DirectQueueClient<J>;
export function createQueueClient<J extends AnyJobType>(options: HttpOptions<J>): QueueClient<J>;
export function createQueueClient<J extends AnyJobType>(options: DirectOptions<J> | HttpOptions<J>): QueueClient<J> {
  return options.transport === 'direct' ? directClient(options) : httpClient(options);
}

const DEFAULT_QUEUE = 'default';
const DEFAULT_LINGER_MS = 5;

function message(type: string, payload: unknown, options: SendOptions = {}) {
  const { queue: _queue, ...rest } = options;
  return { type, payload, ...rest };
}

function directClient<J extends AnyJobType>(options: DirectOptions<J>): DirectQueueClient<J> {
  const db = 'query' in options.database ? options.database : createDb(options.database);
  const app = createApp({ config: options.config, db, env: options.env ?? process.env });
  const batcher = new AutoBatcher(app as App, { lingerMs: options.lingerMs ?? DEFAULT_LINGER_MS, maxBatch: 500 });
  const get = async <T extends J['type']>(id: string) => (await getMessageStatus(app, id)) as MessageViewOf<J, T>;
  return {
    enqueue: (type, payload, send) => batcher.enqueue(send?.queue ?? DEFAULT_QUEUE, message(type, payload, send)),
    enqueueMany: (messages, send) => enqueueMessages(app, send?.queue ?? DEFAULT_QUEUE, messages),
    enqueueInTransaction: (transactionId, messages, send) => enqueueInTransaction(app, transactionId, send?.queue ?? DEFAULT_QUEUE, messages),
    afterCommit: (queue) => wakeDrain(app, queue ?? DEFAULT_QUEUE),
    get,
    waitFor: (id, wait) => waitForMessage(() => get(id), id, wait, options.time ?? systemWaitTime),
    cancel: (id) => cancelMessage(app, id),
    listGroups: (queue, list) => listGroups(app, queue, list),
    setGroupLimits: (queue, groupKey, change) => setGroupLimits(app, queue, groupKey, change),
    pauseGroup: (queue, groupKey) => pauseGroup(app, queue, groupKey),
    resumeGroup: (queue, groupKey) => resumeGroup(app, queue, groupKey),
    close: () => batcher.flush(),
  };
}

function httpClient<J extends AnyJobType>(options: HttpOptions<J>): QueueClient<J> {
  // Checks run here, with no database: the same queues, types and schemas as the API's.
  const checker = { queues: resolveQueues(options.config.queues, {}), jobs: new JobRegistry(options.config.jobTypes), clock: systemClock };
  const fetchFn = options.fetch ?? globalThis.fetch;
  let signer: Promise<ReturnType<typeof apiGatewaySigner>> | undefined;
  const sign = () =>
    (signer ??= (async () => {
      const credentials = options.credentials ?? (await import('@aws-sdk/credential-provider-node')).defaultProvider();
      return apiGatewaySigner(options.region, credentials);
    })());
  const base = new URL(options.baseUrl);

  const call = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, query: Record<string, string> = {}): Promise<unknown> => {
    const url = new URL(path.replace(/^\//, ''), base.href.endsWith('/') ? base : new URL(`${base.href}/`));
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { host: url.host, ...(text === undefined ? {} : { 'content-type': 'application/json' }) };
    const signed = await (
      await sign()
    ).sign({
      method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path: url.pathname,
      query,
      headers,
      body: text,
    });
    // The caller's trace goes with the request (lib/tracing.ts), outside the signature: a proxy
    // that rewrites trace headers must not break the request.
    const spanContext = activeSpanContext();
    const sent = spanContext === undefined ? signed.headers : { ...signed.headers, ...traceHeaders(spanContext) };
    const response = await fetchFn(url, { method, headers: sent as Record<string, string>, body: text });
    const answer = response.status === 204 ? undefined : await response.json().catch(() => undefined);
    if (!response.ok) throw errorFromResponse(response.status, answer);
    return answer;
  };

  const get = async <T extends J['type']>(id: string) => (await call('GET', `/messages/${encodeURIComponent(id)}`)) as MessageViewOf<J, T>;
  /** The group's path; the queue and key are checked as the API checks them, before anything is sent. */
  const groupPath = (queue: string, groupKey: string, action: string) => {
    checkedGroup(checker, queue, groupKey);
    return `/queues/${encodeURIComponent(queue)}/groups/${encodeURIComponent(groupKey)}/${action}`;
  };

  return {
    async enqueue(type, payload, send) {
      const queue = send?.queue ?? DEFAULT_QUEUE;
      const body = message(type, payload, send);
      await checkMessage(checker, queue, body);
      return (await call('POST', `/queues/${encodeURIComponent(queue)}/messages`, body)) as EnqueuedMessage;
    },
    async enqueueMany(messages, send) {
      const queue = send?.queue ?? DEFAULT_QUEUE;
      for (const m of messages) await checkMessage(checker, queue, m);
      const answer = (await call('POST', `/queues/${encodeURIComponent(queue)}/messages`, { messages })) as { messages: EnqueuedMessage[] };
      return answer.messages;
    },
    get,
    waitFor: (id, wait) => waitForMessage(() => get(id), id, wait, options.time ?? systemWaitTime),
    cancel: async (id) => (await call('DELETE', `/messages/${encodeURIComponent(id)}`)) as CancelView,
    async listGroups(queue, list) {
      // Checked before anything is sent.
      checkGroupListLimit(list?.limit);
      groupedQueue(checker, queue);
      const query: Record<string, string> = list?.limit === undefined ? {} : { limit: String(list.limit) };
      return (await call('GET', `/queues/${encodeURIComponent(queue)}/groups`, undefined, query)) as GroupList;
    },
    async setGroupLimits(queue, groupKey, change) {
      const path = groupPath(queue, groupKey, 'limits');
      return (await call('PUT', path, checkGroupLimitsChange(change))) as GroupView;
    },
    pauseGroup: async (queue, groupKey) => (await call('POST', groupPath(queue, groupKey, 'pause'))) as GroupView,
    resumeGroup: async (queue, groupKey) => (await call('POST', groupPath(queue, groupKey, 'resume'))) as GroupView,
    close: async () => {},
  };
}

/** The API's error body as the domain error it stands for, so callers catch the same classes either way. */
function errorFromResponse(status: number, body: unknown): Error {
  const error = (body as { error?: { code?: string; message?: string; field?: string; rule?: string; issues?: FieldIssue[] } } | undefined)?.error;
  const text = error?.message ?? `the API answered ${status}`;
  const issues: FieldIssue[] = error?.issues ?? [{ field: error?.field ?? '', rule: error?.rule ?? 'invalid', message: text.replace(`${error?.field}: `, '') }];
  if (status === 400) return new ValidationError(issues);
  if (status === 413) return new TooLargeError(issues);
  if (status === 404) return new NotFoundError(error?.code ?? 'not_found', text, error?.field);
  if (status === 409) return new ConflictError(error?.code ?? 'conflict', text);
  return new QueueError(text, { retryable: status === 429 || status >= 500 });
}
