/** releaseStartedDedupKey: a message no longer waiting gives up its dedup key, and nothing else changes. */
import { describe, expect, it } from 'vitest';
import { releaseStartedDedupKey } from '../../lib/sql/releaseStartedDedupKey.js';
import { explain, expectAccess, idOf, insertBackground, insertFixtures, messages, statementsOf } from '../support/statements.js';
import { DataApiUnavailableError } from '../../lib/db/index.js';
import { lostReplyDb } from '../support/lostReply.js';
import { useStack } from '../support/stack.js';

const stack = useStack();

const STATUSES = ['waiting', 'retrying', 'running', 'done', 'dead', 'cancelled'] as const;

describe('releaseStartedDedupKey', () => {
  it('frees the key of a message that is not waiting, keeping its status and the rest of the row', async () => {
    await insertFixtures(
      stack,
      STATUSES.map((status, n) => ({ id: idOf(n + 1), queue: 'rel', status, dedupKey: `k${n}`, leaseToken: status === 'running' ? 'l' : null })),
    );
    const before = await messages(stack, { queue: 'rel' });
    const answers = [];
    for (const n of STATUSES.keys()) answers.push(await releaseStartedDedupKey(stack.db, { id: idOf(n + 1), queue: 'rel', dedupKey: `k${n}` }));
    expect(answers).toEqual([false, true, true, true, true, true]);
    const after = await messages(stack, { queue: 'rel' });
    expect(after.map((row) => row.dedup_key)).toEqual(['k0', null, null, null, null, null]);
    expect(after.map(({ dedup_key: _key, ...row }) => row)).toEqual(before.map(({ dedup_key: _key, ...row }) => row));
    // Already free: nothing to release, and the count says so.
    expect(await releaseStartedDedupKey(stack.db, { id: idOf(2), queue: 'rel', dedupKey: 'k1' })).toBe(false);
  });

  it('frees only the key given, of the message given', async () => {
    await insertFixtures(stack, [{ id: idOf(10), queue: 'rel2', status: 'done', dedupKey: 'a' }]);
    expect(await releaseStartedDedupKey(stack.db, { id: idOf(10), queue: 'rel2', dedupKey: 'b' })).toBe(false);
    expect(await releaseStartedDedupKey(stack.db, { id: idOf(11), queue: 'rel2', dedupKey: 'a' })).toBe(false);
    expect(await releaseStartedDedupKey(stack.db, { id: idOf(10), queue: 'other', dedupKey: 'a' })).toBe(false);
    expect((await messages(stack, { queue: 'rel2' }))[0]!.dedup_key).toBe('a');
  });

  // A re-send would find the key already freed and answer false: the caller sees the failure instead.
  it('is not re-sent after a lost reply: the caller sees the failure, and the key is free', async () => {
    await insertFixtures(stack, [{ id: idOf(50), queue: 'lost', status: 'done', dedupKey: 'k' }]);
    const lost = lostReplyDb(stack, { when: (sql) => sql.includes('SET dedup_key = NULL') });
    await expect(releaseStartedDedupKey(lost.db, { id: idOf(50), queue: 'lost', dedupKey: 'k' })).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect([lost.lost(), lost.sent()]).toEqual([1, 1]);
    expect((await messages(stack, { queue: 'lost' }))[0]!.dedup_key).toBeNull();
  });

  it('reaches the message by primary key', async () => {
    await insertBackground(stack);
    const [call] = await statementsOf(stack.db, (db) => releaseStartedDedupKey(db, { id: idOf(900_000), queue: 'bg0', dedupKey: 'bg0-key-0' }));
    expectAccess(await explain(stack.db, call!), { queue_messages: 'PRIMARY' });
  });
});
