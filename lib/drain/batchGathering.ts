import type { BatchJobType } from '../jobs/types.js';

/** What the gathering needs of a claimed message. */
export interface Gatherable {
  type: string;
  /** When its lease ends: it must start early enough for its handler to end before. */
  leaseUntilMs: number;
}

/** A batch ready to start: up to its type's maxSize messages, in the order they were gathered. */
export interface DueBatch<T> {
  jobType: BatchJobType;
  messages: T[];
}

export interface DueInput {
  nowMs: number;
  /** Time left in the run. */
  remainingMs: number;
  marginMs: number;
  /** A batch's timeout when its type sets none. */
  defaultTimeoutMs: number;
  /** Most batches that may start now (free handler slots). */
  slots: number;
  /** Nothing more will come soon (the lane stops, or no claim is out): every partial batch goes now. */
  flush: boolean;
}

interface Group<T> {
  jobType: BatchJobType;
  messages: T[];
  /** When the oldest message now waiting was gathered: its maxWaitMs counts from then. */
  sinceMs: number;
}

/**
 * A lane's claimed messages of batch types, waiting to be handed over together: a full batch
 * (maxSize) goes at once; a smaller one once it has waited its type's maxWaitMs (default 0: at
 * once), once nothing more is coming soon (`flush`), or once its first lease or the run would no
 * longer fit the handler's timeout if it waited longer. Pure bookkeeping: the lane asks what is due and when to
 * look again, and starts what it is given (the start check, mayStart, is still the lane's).
 */
export class BatchGathering<T extends Gatherable> {
  readonly #groups = new Map<string, Group<T>>();
  #size = 0;

  /** Messages waiting. */
  get size(): number {
    return this.#size;
  }

  /** The handler calls the waiting messages make at most: what the claim budget counts them as. */
  get handlers(): number {
    let handlers = 0;
    for (const group of this.#groups.values()) handlers += Math.ceil(group.messages.length / group.jobType.batch.maxSize);
    return handlers;
  }

  add(message: T, jobType: BatchJobType, nowMs: number): void {
    let group = this.#groups.get(jobType.type);
    if (group === undefined) {
      group = { jobType, messages: [], sinceMs: nowMs };
      this.#groups.set(jobType.type, group);
    }
    if (group.messages.length === 0) group.sinceMs = nowMs;
    group.messages.push(message);
    this.#size++;
  }

  /**
   * The batches to start now (at most `slots`, full ones first), and in how many ms a partial one
   * left waiting becomes due (undefined: none waits on time).
   */
  due(input: DueInput): { batches: DueBatch<T>[]; nextInMs: number | undefined } {
    const batches: DueBatch<T>[] = [];
    let nextInMs: number | undefined;
    for (const group of this.#groups.values()) {
      const { maxSize } = group.jobType.batch;
      while (group.messages.length >= maxSize && batches.length < input.slots) batches.push(this.#take(group, maxSize));
    }
    for (const group of this.#groups.values()) {
      if (group.messages.length === 0) continue;
      const dueInMs = input.flush ? 0 : this.#dueAtMs(group, input) - input.nowMs;
      if (dueInMs <= 0 && batches.length < input.slots) batches.push(this.#take(group, group.jobType.batch.maxSize));
      else if (dueInMs > 0) nextInMs = Math.min(nextInMs ?? dueInMs, dueInMs);
    }
    return { batches, nextInMs };
  }

  /** Every message waiting, the gathering emptied (the lane gives them back when it aborts). */
  takeAll(): T[] {
    const all = [...this.#groups.values()].flatMap((group) => group.messages);
    this.#groups.clear();
    this.#size = 0;
    return all;
  }

  /** When a partial batch must go: its wait is over, or waiting longer would not leave its handler the time it needs. */
  #dueAtMs(group: Group<T>, input: DueInput): number {
    const timeoutMs = group.jobType.timeoutMs ?? input.defaultTimeoutMs;
    let dueAtMs = Math.min(group.sinceMs + (group.jobType.batch.maxWaitMs ?? 0), input.nowMs + input.remainingMs - timeoutMs - input.marginMs);
    for (const message of group.messages) dueAtMs = Math.min(dueAtMs, message.leaseUntilMs - timeoutMs - input.marginMs);
    return dueAtMs;
  }

  #take(group: Group<T>, count: number): DueBatch<T> {
    const messages = group.messages.splice(0, count);
    this.#size -= messages.length;
    return { jobType: group.jobType, messages };
  }
}
