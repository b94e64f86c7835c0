/**
 * Debounce and throttle on a dedup key (lib/enqueue.ts): the last debounced payload wins while its
 * message waits; a throttled key answers duplicates for a window. On the real stack, with a
 * ManualClock: nothing here is timed.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/clock.js';
import { drain } from '../lib/drain/drain.js';
import { enqueue, enqueueInTransaction, enqueueRequest } from '../lib/enqueue.js';
import { ValidationError } from '../lib/errors.js';
import { getMessageDetail } from '../lib/messages.js';
import { ENQUEUE_LIMITS } from '../schema/messages.js';
import { appOn, jobType, plenty } from './drain/helpers.js';
import { testApp } from './http/fixtures.js';
import { DataApiUnavailableError } from '../lib/db/index.js';
import { lostReplyDb } from './support/lostReply.js';
import { useStack } from './support/stack.js';

const stack = useStack();

beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
});

const T0 = '2026-03-01T12:00:00.000Z';
const sms = (text: string) => ({ type: 'sms.send', payload: { to: '+15550001111', text } });
const debounce = (seconds: number) => ({ mode: 'debounce' as const, seconds });
const throttle = (seconds: number) => ({ mode: 'throttle' as const, seconds });

async function rows(where = '1=1', params: unknown[] = []): Promise<any[]> {
  const [result] = await stack.sql.query(
    `SELECT id, status, dedup_key, priority, max_attempts, available_at, created_at, CAST(payload AS CHAR) AS payload_text, payload_parts
     FROM queue_messages WHERE ${where} ORDER BY id`,
    params,
  );
  return result as any[];
}

const textOf = (row: { payload_text: string }) => (JSON.parse(row.payload_text) as { text: string }).text;

async function refusal(work: Promise<unknown>): Promise<ValidationError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('dedup: refusals', () => {
  it('names the field and the rule for a bad dedup', async () => {
    const app = testApp(stack.db);
    const cases: [unknown, string, string][] = [
      [{ ...sms('a'), dedup: debounce(1) }, 'dedupKey', 'required'],
      [{ ...sms('a'), dedupKey: 'k', dedup: debounce(0) }, 'dedup.seconds', 'too_small'],
      [{ ...sms('a'), dedupKey: 'k', dedup: throttle(ENQUEUE_LIMITS.maxDedupSeconds + 1) }, 'dedup.seconds', 'too_big'],
      [{ ...sms('a'), dedupKey: 'k', dedup: debounce(1.5) }, 'dedup.seconds', 'invalid_type'],
      [{ ...sms('a'), dedupKey: 'k', dedup: { mode: 'sometimes', seconds: 1 } }, 'dedup.mode', 'invalid_value'],
      [{ ...sms('a'), dedupKey: 'k', dedup: { mode: 'debounce' } }, 'dedup.seconds', 'invalid_type'],
      [{ ...sms('a'), dedupKey: 'k', dedup: debounce(1), delaySeconds: 5 }, 'delaySeconds', 'exclusive'],
      [{ ...sms('a'), dedupKey: 'k', dedup: debounce(1), availableAt: T0 }, 'availableAt', 'exclusive'],
    ];
    for (const [body, field, rule] of cases) {
      const error = await refusal(enqueueRequest(app, 'default', body));
      expect(
        error.issues.map((issue) => [issue.field, issue.rule]),
        JSON.stringify(body),
      ).toContainEqual([field, rule]);
    }
    // Named by its place in a batch, too.
    const error = await refusal(enqueueRequest(app, 'default', { messages: [sms('ok'), { ...sms('a'), dedup: throttle(1) }] }));
    expect([error.field, error.rule]).toEqual(['messages[1].dedupKey', 'required']);
    expect(await rows()).toEqual([]);
  });
});

describe('dedup: debounce', () => {
  it('gives a waiting message the last payload and moves its due time; a first enqueue is one call', async () => {
    const app = testApp(stack.newDb());
    const [first] = await enqueue(app, 'default', [{ ...sms('one'), dedupKey: 'k', dedup: debounce(2) }]);
    expect(first!.duplicate).toBe(false);
    expect(app.db.stats.calls).toBe(1);
    expect((await rows())[0]!.available_at).toEqual(new Date(Date.parse(T0) + 2_000));

    const later = app.clock.advance(500);
    const [second] = await enqueue(app, 'default', [{ ...sms('two'), priority: 9, maxAttempts: 2, dedupKey: 'k', dedup: debounce(3) }]);
    expect(second).toEqual({ id: first!.id, duplicate: true });
    // A hit: the insert, the holder's read, the update.
    expect(app.db.stats.calls).toBe(1 + 3);
    const [row] = await rows();
    expect([row.id, textOf(row), row.priority, row.max_attempts, row.status]).toEqual([first!.id, 'two', 9, 2, 'waiting']);
    expect(row.available_at).toEqual(new Date(later.getTime() + 3_000));
  });

  it('makes a new message, due after the delay, when the keyed message is no longer waiting', async () => {
    const app = testApp(stack.db);
    for (const status of ['running', 'retrying', 'done'] as const) {
      await stack.sql.query('DELETE FROM queue_messages');
      const [old] = await enqueue(app, 'default', [{ ...sms('old'), dedupKey: 'k', dedup: debounce(1) }]);
      await stack.sql.query(`UPDATE queue_messages SET status = ?, lease_token = 'l' WHERE id = ?`, [status, old!.id]);
      const now = app.clock.advance(10);
      const [fresh] = await enqueue(app, 'default', [{ ...sms('new'), dedupKey: 'k', dedup: debounce(1) }]);
      expect(fresh!.duplicate).toBe(false);
      expect(fresh!.id).not.toBe(old!.id);
      const stored = await rows();
      expect(stored.map((row) => [row.id, row.status, row.dedup_key, textOf(row)])).toEqual([
        [old!.id, status, null, 'old'],
        [fresh!.id, 'waiting', 'k', 'new'],
      ]);
      expect(stored[1].available_at).toEqual(new Date(now.getTime() + 1_000));
    }
  });

  it('replaces a large payload with another, and with a small one, reading back the last', async () => {
    const app = testApp(stack.db);
    const big = (fill: string) => ({ type: 'any', payload: { fill: fill.repeat(70_000) } });
    const [first] = await enqueue(app, 'default', [{ ...big('a'), dedupKey: 'big', dedup: debounce(1) }]);
    const [second] = await enqueue(app, 'default', [{ ...big('b'), dedupKey: 'big', dedup: debounce(1) }]);
    expect(second).toEqual({ id: first!.id, duplicate: true });
    expect(((await getMessageDetail(app, first!.id)).payload as { fill: string }).fill).toBe('b'.repeat(70_000));
    const slices = async () => {
      const [[row]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_payload_parts WHERE message_id = ?', [first!.id])) as any;
      return Number(row.n);
    };
    expect(await slices()).toBe(2);
    await enqueue(app, 'default', [{ type: 'any', payload: { small: true }, dedupKey: 'big', dedup: debounce(1) }]);
    expect((await getMessageDetail(app, first!.id)).payload).toEqual({ small: true });
    // The old slices went with the payload they held.
    expect(await slices()).toBe(0);
  });

  it('follows the same rule within a batch: the last debounced payload wins, every repeat answers the one message; new keys stay one call', async () => {
    const app = testApp(stack.newDb());
    const answers = await enqueue(app, 'default', [
      { ...sms('a1'), dedupKey: 'a', dedup: debounce(1) },
      { ...sms('b1'), dedupKey: 'b', dedup: throttle(60) },
      { ...sms('a2'), dedupKey: 'a', dedup: debounce(2) },
      { ...sms('b2'), dedupKey: 'b', dedup: throttle(60) },
      { ...sms('c1'), dedupKey: 'c' },
      { ...sms('c2'), dedupKey: 'c', dedup: debounce(1) },
      sms('plain'),
    ]);
    expect(app.db.stats.calls).toBe(1);
    expect(answers.map((a) => a.duplicate)).toEqual([false, false, true, true, false, true, false]);
    expect(answers[2]!.id).toBe(answers[0]!.id);
    expect(answers[3]!.id).toBe(answers[1]!.id);
    expect(answers[5]!.id).toBe(answers[4]!.id);
    const byKey = new Map((await rows()).map((row) => [row.dedup_key, row]));
    expect([...byKey.keys()].sort()).toEqual([null, 'a', 'b', 'c'].sort());
    expect(textOf(byKey.get('a'))).toBe('a2');
    expect(byKey.get('a').available_at).toEqual(new Date(Date.parse(T0) + 2_000));
    expect(textOf(byKey.get('b'))).toBe('b1');
    expect(textOf(byKey.get('c'))).toBe('c2');

    // The same batch again: every key is stored now; a, c debounce into theirs, b is throttled.
    app.clock.advance(100);
    const again = await enqueue(app, 'default', [
      { ...sms('a3'), dedupKey: 'a', dedup: debounce(1) },
      { ...sms('b3'), dedupKey: 'b', dedup: throttle(60) },
      { ...sms('c3'), dedupKey: 'c', dedup: debounce(1) },
    ]);
    expect(again).toEqual([answers[0], answers[1], answers[4]].map((a) => ({ id: a!.id, duplicate: true })));
    const after = new Map((await rows()).map((row) => [row.dedup_key, textOf(row)]));
    expect([after.get('a'), after.get('b'), after.get('c')]).toEqual(['a3', 'b1', 'c3']);
  });

  it('leaves exactly one waiting message with one of their payloads when 20 enqueues of one key race', async () => {
    const app = testApp(stack.db);
    const race = () =>
      Promise.all(
        Array.from({ length: 20 }, (_, n) => enqueue({ ...app, db: stack.newDb() }, 'default', [{ ...sms(`p${n}`), dedupKey: 'hot', dedup: debounce(1) }])),
      );
    const answers = (await race()).map(([a]) => a!);
    let stored = await rows();
    expect(stored).toHaveLength(1);
    expect(answers.every((a) => a.id === stored[0].id)).toBe(true);
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
    expect(answers.map((_, n) => `p${n}`)).toContain(textOf(stored[0]));

    // The keyed message is running now: the racers free its key and only one of them inserts.
    await stack.sql.query(`UPDATE queue_messages SET status = 'running', lease_token = 'l'`);
    const next = (await race()).map(([a]) => a!);
    stored = await rows();
    expect(stored.map((row) => [row.status, row.dedup_key])).toEqual([
      ['running', null],
      ['waiting', 'hot'],
    ]);
    expect(next.every((a) => a.id === stored[1].id)).toBe(true);
    expect(next.filter((a) => !a.duplicate)).toHaveLength(1);
  });

  it('fails on a lost reply, and the enqueue sent again ends as one would have', async () => {
    const app = testApp(stack.db);
    const [old] = await enqueue(app, 'default', [{ ...sms('old'), dedupKey: 'lost', dedup: debounce(1) }]);
    await stack.sql.query(`UPDATE queue_messages SET status = 'done', finished_at = created_at`);
    for (const statement of ['SET dedup_key = NULL', 'dedup_hits = dedup_hits + 1']) {
      const lost = lostReplyDb(stack, { when: (sql) => sql.includes(statement) });
      const [{ id: holder }] = await rows("dedup_key = 'lost'");
      await expect(enqueue({ ...app, db: lost.db }, 'default', [{ ...sms(statement), dedupKey: 'lost', dedup: debounce(1) }])).rejects.toBeInstanceOf(
        DataApiUnavailableError,
      );
      const [again] = await enqueue(app, 'default', [{ ...sms(statement), dedupKey: 'lost', dedup: debounce(1) }]);
      // Freed, then lost: the enqueue sent again inserts. Debounced, then lost: sent again, it debounces into the same message.
      expect(again!.id === holder).toBe(statement !== 'SET dedup_key = NULL');
      const waiting = await rows("dedup_key = 'lost'");
      expect(waiting.map((row) => [row.id, row.status, textOf(row)])).toEqual([[again!.id, 'waiting', statement]]);
    }
    expect((await rows()).map((row) => row.id)).toContain(old!.id);
  });

  it('works the same in a caller’s transaction (the outbox)', async () => {
    const app = testApp(stack.db);
    const [first] = await enqueue(app, 'orders', [{ ...sms('before'), dedupKey: 'o', dedup: debounce(5) }]);
    let answer;
    await stack.db.transaction(async (tx) => {
      [answer] = await enqueueInTransaction(app, tx.transactionId!, 'orders', [{ ...sms('inside'), dedupKey: 'o', dedup: debounce(5) }]);
    });
    expect(answer).toEqual({ id: first!.id, duplicate: true });
    expect(textOf((await rows())[0])).toBe('inside');
  });
});

describe('dedup: throttle', () => {
  it('answers duplicates for the window after the first enqueue, then makes a new message', async () => {
    const app = testApp(stack.newDb());
    const [first] = await enqueue(app, 'default', [{ ...sms('first'), dedupKey: 't', dedup: throttle(10) }]);
    app.clock.advance(9_999);
    const callsBefore = app.db.stats.calls;
    const [within] = await enqueue(app, 'default', [{ ...sms('second'), dedupKey: 't', dedup: throttle(10) }]);
    expect(within).toEqual({ id: first!.id, duplicate: true });
    // Within the window: the insert and the holder's read, as for a plain duplicate.
    expect(app.db.stats.calls - callsBefore).toBe(2);
    expect((await rows()).map(textOf)).toEqual(['first']);

    app.clock.advance(1);
    const [after] = await enqueue(app, 'default', [{ ...sms('third'), dedupKey: 't', dedup: throttle(10) }]);
    expect(after!.duplicate).toBe(false);
    expect((await rows()).map((row) => [row.id, row.dedup_key, textOf(row)])).toEqual([
      [first!.id, null, 'first'],
      [after!.id, 't', 'third'],
    ]);
  });

  it('lets only one of 20 racing enqueues past an expired window make a message', async () => {
    const app = testApp(stack.db);
    const [first] = await enqueue(app, 'default', [{ ...sms('first'), dedupKey: 't', dedup: throttle(1) }]);
    app.clock.advance(1_000);
    const answers = (
      await Promise.all(
        Array.from({ length: 20 }, (_, n) => enqueue({ ...app, db: stack.newDb() }, 'default', [{ ...sms(`p${n}`), dedupKey: 't', dedup: throttle(1) }])),
      )
    ).map(([a]) => a!);
    const stored = await rows();
    expect(stored.map((row) => [row.id === first!.id, row.dedup_key])).toEqual([
      [true, null],
      [false, 't'],
    ]);
    expect(answers.filter((a) => !a.duplicate).map((a) => a.id)).toEqual([stored[1].id]);
  });

  it('leaves the default a plain duplicate for as long as the message is kept', async () => {
    const app = testApp(stack.db);
    const [first] = await enqueue(app, 'default', [{ ...sms('first'), dedupKey: 'plain' }]);
    app.clock.advance(365 * 86_400_000);
    expect(await enqueue(app, 'default', [{ ...sms('again'), dedupKey: 'plain' }])).toEqual([{ id: first!.id, duplicate: true }]);
  });
});

describe('dedup: the debounce target', () => {
  it('runs 100 enqueues of one key within 2 s once, with the last payload, 1 s after the last enqueue', async () => {
    const clock = new ManualClock(T0);
    const ran: unknown[] = [];
    const app = appOn(stack, {
      queues: [{ name: 'search' }],
      jobTypes: [jobType('index.update', async (payload) => void ran.push(payload))],
      clock,
    });
    let last = clock.now();
    const ids = new Set<string>();
    for (let n = 0; n < 100; n++) {
      if (n > 0) last = clock.advance(20);
      const [answer] = await enqueue(app, 'search', [{ type: 'index.update', payload: { n }, dedupKey: 'doc-1', dedup: debounce(1) }]);
      ids.add(answer!.id);
    }
    expect(ids.size).toBe(1);
    expect(last.getTime() - Date.parse(T0)).toBeLessThan(2_000);
    const [row] = await rows();
    expect(row.available_at).toEqual(new Date(last.getTime() + 1_000));

    clock.set(last.getTime() + 999);
    expect((await drain(app, { remainingTimeMs: plenty })).claimed).toBe(0);
    expect(ran).toEqual([]);

    clock.set(last.getTime() + 1_000);
    const summary = await drain(app, { remainingTimeMs: plenty });
    expect([summary.claimed, summary.done]).toEqual([1, 1]);
    expect(ran).toEqual([{ n: 99 }]);
  });
});
