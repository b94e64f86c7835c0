/**
 * A FIFO lane's followers (lib/sql/claimGroupHeads.ts), by their head's id: a claim may hold two
 * messages of a group, the head (lowest id) and the one after it. The follower waits here until
 * its head's outcome is written: it starts once the head is done or dead, and goes back when the
 * head is retried or not run. Deciding which is which is all this does; the lane starts or
 * releases what it is handed.
 */
export class FifoFollowers<T extends { id: string; groupKey: string | null }> {
  readonly #byHead = new Map<string, T>();

  /** Followers waiting for their head's outcome. */
  get size(): number {
    return this.#byHead.size;
  }

  /**
   * Takes a claim's followers: within each group the claim holds, the message with the lowest id
   * is the head, the other (if any) its follower. Returns the ids taken (they do not start now).
   */
  take(messages: readonly T[]): Set<string> {
    const heads = new Map<string, T>();
    const taken = new Set<string>();
    for (const message of [...messages].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      if (message.groupKey === null) continue;
      const head = heads.get(message.groupKey);
      if (head === undefined) heads.set(message.groupKey, message);
      else {
        this.#byHead.set(head.id, message);
        taken.add(message.id);
      }
    }
    return taken;
  }

  /** The follower of this head, if it has one, handed over (no longer waiting here). */
  detach(headId: string): T | undefined {
    const follower = this.#byHead.get(headId);
    if (follower !== undefined) this.#byHead.delete(headId);
    return follower;
  }
}
