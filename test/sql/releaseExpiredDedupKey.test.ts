/** releaseExpiredDedupKey: a message created at or before the window's start gives up its dedup key. */
import { describe, expect, it } from 'vitest';
import { releaseExpiredDedupKey } from '../../lib/sql/releaseExpiredDedupKey.js';
import { at, explain, expectAccess, idOf, insertBackground, insertFixtures, messages, statementsOf, T0 } from '../support/statements.js';
import { DataApiUnavailableError } from '../../lib/db/index.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

describe('releaseExpiredDedupKey', () => {
  it('frees the key once the window since the message was created has passed, whatever its status', async () => {
    await insertFixtures(stack, [
      { id: idOf(1), queue: 'thr', dedupKey: 'a', createdAt: T0 },
      { id: idOf(2), queue: 'thr', dedupKey: 'b', createdAt: T0, status: 'running', leaseToken: 'l' },
    ]);
    const before = await messages(stack, { queue: 'thr' });
    // One millisecond inside the window: kept.
    expect(await releaseExpiredDedupKey(stack.db, { id: idOf(1), queue: 'thr', dedupKey: 'a', windowStart: at(-1) })).toBe(false);
    // At its edge and after: freed.
    expect(await releaseExpiredDedupKey(stack.db, { id: idOf(1), queue: 'thr', dedupKey: 'a', windowStart: T0 })).toBe(true);
    expect(await releaseExpiredDedupKey(stack.db, { id: idOf(2), queue: 'thr', dedupKey: 'b', windowStart: at(5) })).toBe(true);
    const after = await messages(stack, { queue: 'thr' });
    expect(after.map((row) => [row.dedup_key, row.status])).toEqual([
      [null, 'waiting'],
      [null, 'running'],
    ]);
    expect(after.map(({ dedup_key: _key, ...row }) => row)).toEqual(before.map(({ dedup_key: _key, ...row }) => row));
    expect(await releaseExpiredDedupKey(stack.db, { id: idOf(1), queue: 'thr', dedupKey: 'a', windowStart: at(5) })).toBe(false);
  });

  it('frees only the key given, of the message given', async () => {
    await insertFixtures(stack, [{ id: idOf(10), queue: 'thr2', dedupKey: 'a' }]);
    const windowStart = at(1_000);
    expect(await releaseExpiredDedupKey(stack.db, { id: idOf(10), queue: 'thr2', dedupKey: 'b', windowStart })).toBe(false);
    expect(await releaseExpiredDedupKey(stack.db, { id: idOf(11), queue: 'thr2', dedupKey: 'a', windowStart })).toBe(false);
    expect(await releaseExpiredDedupKey(stack.db, { id: idOf(10), queue: 'other', dedupKey: 'a', windowStart })).toBe(false);
    expect((await messages(stack, { queue: 'thr2' }))[0]!.dedup_key).toBe('a');
  });

  // A re-send would find the key already freed and answer false: the caller sees the failure instead.
  it('is not re-sent after a lost reply: the caller sees the failure, and the key is free', async () => {
    await insertFixtures(stack, [{ id: idOf(50), queue: 'lost', status: 'done', dedupKey: 'k' }]);
    const lost = lostReplyDb(stack, { when: (sql) => sql.includes('SET dedup_key = NULL') });
    await expect(releaseExpiredDedupKey(lost.db, { id: idOf(50), queue: 'lost', dedupKey: 'k', windowStart: T0 })).rejects.toBeInstanceOf(
      DataApiUnavailableError,
    );
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect((await messages(stack, { queue: 'lost' }))[0]!.dedup_key).toBeNull();
  });

  it('reaches the message by primary key', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) =>
      releaseExpiredDedupKey(db, { id: idOf(900_000), queue: 'bg0', dedupKey: 'bg0-key-0', windowStart: T0 }),
    );
    expectAccess(await explain(stack.db, call!), { queue_messages: 'PRIMARY' });
  });
});
