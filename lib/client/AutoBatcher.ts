import { ENQUEUE_LIMITS } from '../../schema/messages.js';
import type { App } from '../app.js';
import { checkMessage, insertCheckedAndWake, type EnqueuedMessage, type CheckedMessage } from '../enqueue.js';

interface Waiting {
  checked: CheckedMessage;
  resolve(answer: EnqueuedMessage): void;
  reject(error: unknown): void;
}

export interface AutoBatcherOptions {
  /** How long the first message of a batch waits for others; 0 sends each message alone. */
  lingerMs: number;
  /** Most messages per insert (the API's batch limit). */
  maxBatch: number;
}

/**
 * Gathers concurrent single-message enqueues of a process into one insert per queue (SQS's
 * buffered client, with the atomicity of one statement per batch). Each message is checked on
 * its own first, so a bad message fails only its caller, before anything is sent; a batch whose
 * insert fails fails only the callers whose messages were in it.
 */
export class AutoBatcher {
  readonly #pending = new Map<string, { items: Waiting[]; bytes: number; timer?: ReturnType<typeof setTimeout> }>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Messages still being checked: a flush must wait for them to join their batch. */
  readonly #checking = new Set<Promise<unknown>>();

  constructor(
    private readonly app: App,
    private readonly options: AutoBatcherOptions,
  ) {}

  async enqueue(queue: string, message: unknown): Promise<EnqueuedMessage> {
    let answer!: Promise<EnqueuedMessage>;
    // Checked, then joined to its batch in the same callback, so a flush that waited for the
    // check finds the message in the batch.
    const joined = checkMessage(this.app, queue, message).then((checked) => {
      answer = this.#join(queue, checked);
    });
    this.#checking.add(joined);
    void joined.catch(() => {}).finally(() => this.#checking.delete(joined));
    await joined;
    return answer;
  }

  #join(queue: string, checked: CheckedMessage): Promise<EnqueuedMessage> {
    return new Promise<EnqueuedMessage>((resolve, reject) => {
      // A message that would push the batch past the request limit starts the next one.
      const open = this.#pending.get(queue);
      if (open !== undefined && open.bytes + checked.requestBytes > ENQUEUE_LIMITS.maxRequestBytes) this.#flush(queue);
      const batch = this.#pending.get(queue) ?? { items: [], bytes: 0 };
      this.#pending.set(queue, batch);
      batch.items.push({ checked, resolve, reject });
      batch.bytes += checked.requestBytes;
      if (this.options.lingerMs <= 0 || batch.items.length >= this.options.maxBatch) this.#flush(queue);
      else batch.timer ??= setTimeout(() => this.#flush(queue), this.options.lingerMs);
    });
  }

  /** Sends everything gathered and waits for every insert to end. */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#checking]);
    for (const queue of [...this.#pending.keys()]) this.#flush(queue);
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight);
  }

  #flush(queue: string): void {
    const batch = this.#pending.get(queue);
    if (batch === undefined) return;
    this.#pending.delete(queue);
    if (batch.timer !== undefined) clearTimeout(batch.timer);
    if (batch.items.length === 0) return;
    const items = batch.items;
    const insert = insertCheckedAndWake(
      this.app,
      queue,
      items.map((item) => item.checked),
    ).then(
      (answers) => items.forEach((item, i) => item.resolve(answers[i]!)),
      (error: unknown) => items.forEach((item) => item.reject(error)),
    );
    this.#inFlight.add(insert);
    void insert.finally(() => this.#inFlight.delete(insert));
  }
}
