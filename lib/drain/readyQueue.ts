/**
 * A lane's claimed messages waiting for a handler, in claim order: a FIFO over an array with a
 * moving head, so taking is O(1) and allocates nothing; the array is dropped once it is emptied.
 */
export class ReadyQueue<T extends { notBeforeMs?: number }> {
  #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The next to start, if any, left in place. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the next to start; the queue must not be empty. */
  take(): T {
    const item = this.#items[this.#head]!;
    this.#head++;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    }
    return item;
  }

  /**
   * How many wait for a start time after `nowMs` (a queue-wide rate's). Claims land in permit
   * order, so they are the newest, at the tail: counted from there, stopping at the first due one.
   */
  waitingToStart(nowMs: number): number {
    let waiting = 0;
    for (let i = this.#items.length - 1; i >= this.#head && (this.#items[i]!.notBeforeMs ?? 0) > nowMs; i--) waiting++;
    return waiting;
  }
}
