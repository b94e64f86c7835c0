/** CancelWatch: one read per poll for all running messages, none while nothing runs. */
import { describe, expect, it } from 'vitest';
import { CancelWatch } from '../../lib/drain/cancelWatch.js';
import { silentLog } from '../../lib/drain/types.js';
import type { HeldMessage } from '../../lib/sql/heldMessage.js';
import { READ_CANCEL_REQUESTS } from '../../lib/sql/readCancelRequests.js';
import { requestCancel } from '../../lib/sql/requestCancel.js';
import { heldIds, idOf, insertFixtures, recordingDb } from '../support/statements.js';
import { useStack } from '../support/stack.js';
import { waitFor } from '../support/waitFor.js';

const stack = useStack();

describe('CancelWatch', () => {
  it('finds the running messages with a cancel request in one read per poll, and tells each once', async () => {
    const running = Array.from({ length: 4 }, (_, i) => ({ id: idOf(i), leaseToken: 'lease-w' }));
    await insertFixtures(
      stack,
      running.map((m) => ({ ...m, queue: 'watch', status: 'running' as const })),
    );
    const db = recordingDb(stack.newDb());
    const cancelled: HeldMessage[] = [];
    const watch = new CancelWatch({ db, queue: 'watch', everyMs: 50, log: silentLog, onCancel: (m) => cancelled.push(m) });
    for (const m of running) watch.watch(m);
    await waitFor(async () => watch.polls >= 2, 5_000, 'two polls');
    expect(cancelled).toEqual([]);
    await requestCancel(stack.db, idOf(2), new Date());
    await waitFor(async () => cancelled.length > 0, 5_000, 'the cancel to be seen');
    const polls = watch.polls;
    await waitFor(async () => watch.polls >= polls + 2, 5_000, 'two more polls');
    await watch.close();
    expect(cancelled.map((m) => m.id)).toEqual([idOf(2)]);
    const reads = db.calls.filter((c) => c.sql === READ_CANCEL_REQUESTS);
    expect(reads).toHaveLength(watch.polls);
    expect(heldIds(reads[0]!.params)).toHaveLength(4);
    // Told once: it is watched no more.
    expect(heldIds(reads.at(-1)!.params)).toHaveLength(3);
  });

  it('makes no call while nothing runs', async () => {
    const db = recordingDb(stack.newDb());
    const watch = new CancelWatch({ db, queue: 'idle', everyMs: 20, log: silentLog, onCancel: () => {} });
    watch.watch({ id: idOf(100), leaseToken: 'x' });
    watch.unwatch(idOf(100));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await watch.close();
    expect(db.calls).toEqual([]);
  });
});
