import { beforeEach, describe, expect, it } from 'vitest';
import { enqueue } from '../lib/enqueue.js';
import { ConflictError, NotFoundError } from '../lib/errors.js';
import { uuidv7 } from '../lib/ids.js';
import { cancelMessage, findMessageByDedupKey, getMessageDetail, getMessageStatus } from '../lib/messages.js';
import { claimBatch } from '../lib/sql/index.js';
import { messageView } from '../schema/messages.js';
import { useStack } from './support/stack.js';
import { testApp } from './http/fixtures.js';

const stack = useStack();

beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
});

async function enqueueOne(app = testApp(stack.db), extra: Record<string, unknown> = {}): Promise<string> {
  const [answer] = await enqueue(app, 'default', [{ type: 'sms.send', payload: { to: '+15550001111', text: 'hi' }, ...extra }]);
  return answer!.id;
}

async function setStatus(id: string, status: string, extra = ''): Promise<void> {
  await stack.sql.query(`UPDATE queue_messages SET status = ? ${extra} WHERE id = ?`, [status, id]);
}

describe('getMessageStatus', () => {
  it('shows a waiting message without its payload', async () => {
    const app = testApp(stack.db);
    const id = await enqueueOne(app, { dedupKey: 'k-1', priority: 5, delaySeconds: 60 });
    const view = await getMessageStatus(app, id);
    expect(messageView.strict().parse(view)).toEqual({
      id,
      queue: 'default',
      type: 'sms.send',
      status: 'waiting',
      priority: 5,
      attempts: 0,
      maxAttempts: 7,
      availableAt: '2026-03-01T12:01:00.000Z',
      createdAt: '2026-03-01T12:00:00.000Z',
      updatedAt: '2026-03-01T12:00:00.000Z',
      dedupKey: 'k-1',
    });
  });

  it('shows attempts, the finish time and the last error of a dead message', async () => {
    const app = testApp(stack.db);
    const id = await enqueueOne(app);
    await setStatus(id, 'dead', ", attempts = 7, finished_at = '2026-03-01 13:00:00.250', last_error = 'provider said 400 ⚠️'");
    expect(await getMessageStatus(app, id)).toMatchObject({
      status: 'dead',
      attempts: 7,
      finishedAt: '2026-03-01T13:00:00.250Z',
      lastError: 'provider said 400 ⚠️',
    });
  });

  it('an unknown or malformed id is NotFoundError', async () => {
    const app = testApp(stack.db);
    await expect(getMessageStatus(app, uuidv7())).rejects.toBeInstanceOf(NotFoundError);
    await expect(getMessageStatus(app, 'not-an-id')).rejects.toMatchObject({ code: 'unknown_message', field: 'id' });
  });
});

describe('getMessageDetail and findMessageByDedupKey', () => {
  it('show a message with its payload, by id or by its dedup key in its queue', async () => {
    const app = testApp(stack.db);
    const id = await enqueueOne(app, { dedupKey: 'order 42 ⚡' });
    const byId = await getMessageDetail(app, id);
    expect(byId).toEqual({ ...(await getMessageStatus(app, id)), payload: { to: '+15550001111', text: 'hi' } });
    expect(await findMessageByDedupKey(app, 'default', 'order 42 ⚡')).toEqual(byId);
  });

  it('an unknown id, or a key unknown in that queue, is NotFoundError', async () => {
    const app = testApp(stack.db);
    await enqueueOne(app, { dedupKey: 'k' });
    await expect(getMessageDetail(app, uuidv7())).rejects.toMatchObject({ code: 'unknown_message', field: 'id' });
    await expect(getMessageDetail(app, 'nope')).rejects.toBeInstanceOf(NotFoundError);
    await expect(findMessageByDedupKey(app, 'orders', 'k')).rejects.toMatchObject({ code: 'unknown_message', field: 'dedupKey' });
    await expect(findMessageByDedupKey(app, 'default', 'K')).rejects.toBeInstanceOf(NotFoundError);
    await expect(findMessageByDedupKey(app, 'nope', 'k')).rejects.toMatchObject({ code: 'unknown_queue' });
  });
});

describe('cancelMessage', () => {
  it.each(['waiting', 'retrying'])('cancels a %s message, which is then never claimed', async (status) => {
    const app = testApp(stack.db);
    const id = await enqueueOne(app);
    await setStatus(id, status);
    app.clock.advance(5_000);
    const view = await cancelMessage(app, id);
    expect(view).toMatchObject({ id, status: 'cancelled', finishedAt: '2026-03-01T12:00:05.000Z', updatedAt: '2026-03-01T12:00:05.000Z' });
    const claimed = await claimBatch(stack.db, { queue: 'default', limit: 10, leaseToken: uuidv7(), now: app.clock.now(), leaseUntil: new Date('2030-01-01') });
    expect(claimed).toBe(0);
  });

  it('requests the cancel of a running message under its lease, and answers it running with cancelRequested; the row is left to its drain', async () => {
    const app = testApp(stack.db);
    const id = await enqueueOne(app);
    await stack.sql.query(`UPDATE queue_messages SET status = 'running', lease_token = 'lease-r' WHERE id = ?`, [id]);
    const [[before]] = (await stack.sql.query('SELECT * FROM queue_messages WHERE id = ?', [id])) as any;
    expect(await cancelMessage(app, id)).toMatchObject({ id, status: 'running', cancelRequested: true });
    const [[after]] = (await stack.sql.query('SELECT * FROM queue_messages WHERE id = ?', [id])) as any;
    expect(after).toEqual(before);
    const [requests] = (await stack.sql.query('SELECT lease_token FROM queue_cancel_requests WHERE message_id = ?', [id])) as any;
    expect(requests).toEqual([{ lease_token: 'lease-r' }]);
  });

  it.each(['done', 'dead', 'cancelled'])('refuses a %s message with a ConflictError naming its status, and changes nothing', async (status) => {
    const app = testApp(stack.db);
    const id = await enqueueOne(app);
    await setStatus(id, status);
    const [[before]] = (await stack.sql.query('SELECT * FROM queue_messages WHERE id = ?', [id])) as any;
    const error = await cancelMessage(app, id).catch((e) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ code: 'not_cancellable', messageStatus: status });
    expect(error.message).toContain(status);
    const [[after]] = (await stack.sql.query('SELECT * FROM queue_messages WHERE id = ?', [id])) as any;
    expect(after).toEqual(before);
  });

  it('an unknown id is NotFoundError', async () => {
    await expect(cancelMessage(testApp(stack.db), uuidv7())).rejects.toBeInstanceOf(NotFoundError);
  });
});
