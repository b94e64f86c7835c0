import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { enqueue, enqueueInTransaction, enqueueRequest } from '../lib/enqueue.js';
import { getMessageDetail } from '../lib/messages.js';
import { NotFoundError, TooLargeError, ValidationError } from '../lib/errors.js';
import { isUuid } from '../lib/ids.js';
import { ENQUEUE_LIMITS } from '../schema/messages.js';
import { createDataApiClient } from '../lib/db/index.js';
import { OutOfStockError, placeOrder } from '../examples/outbox.js';
import { createApp } from '../lib/app.js';
import queueConfig from '../queue.config.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from './support/stack.js';
import { anyType, smsType, testApp } from './http/fixtures.js';
import { defineConfig } from '../lib/config.js';
import { ManualClock } from '../lib/clock.js';

const stack = useStack();

beforeAll(async () => {
  await stack.sql.query('CREATE TABLE invoices (id VARCHAR(36) PRIMARY KEY, total INT NOT NULL) CHARSET=utf8mb4');
  // examples/outbox.ts's tables
  await stack.sql.query('CREATE TABLE orders (id VARCHAR(36) PRIMARY KEY, sku VARCHAR(32) NOT NULL, quantity INT NOT NULL, phone VARCHAR(16) NOT NULL)');
  await stack.sql.query('CREATE TABLE inventory (sku VARCHAR(32) PRIMARY KEY, stock INT NOT NULL)');
});
beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
  await stack.sql.query('DELETE FROM invoices');
});

const sms = (to = '+15550001111', text = 'hello') => ({ type: 'sms.send', payload: { to, text } });

async function rows(where = '1=1', params: unknown[] = []): Promise<any[]> {
  const [result] = await stack.sql.query(`SELECT *, CAST(payload AS CHAR) AS payload_text FROM queue_messages WHERE ${where} ORDER BY id`, params);
  return result as any[];
}

async function count(): Promise<number> {
  const [[row]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_messages')) as any;
  return Number(row.n);
}

/** Calls `work` with a fresh Db and answers how many Data API calls it made. */
async function callsOf(work: (app: ReturnType<typeof testApp>) => Promise<unknown>): Promise<number> {
  const app = testApp(stack.newDb());
  await work(app);
  return app.db.stats.calls;
}

describe('enqueue', () => {
  it('stores a message with its defaults and answers a time-ordered id', async () => {
    const app = testApp(stack.db);
    const [answer] = await enqueue(app, 'default', [sms()]);
    expect(answer!.duplicate).toBe(false);
    expect(isUuid(answer!.id)).toBe(true);
    expect(answer!.id[14]).toBe('7');

    const [row] = await rows();
    expect(row.id).toBe(answer!.id);
    expect(row.queue).toBe('default');
    expect(row.type).toBe('sms.send');
    expect(row.status).toBe('waiting');
    expect(row.priority).toBe(0);
    expect(row.attempts).toBe(0);
    expect(row.max_attempts).toBe(7); // the type's default wins over the queue's
    expect(row.available_at.toISOString()).toBe('2026-03-01T12:00:00.000Z');
    expect(row.created_at.toISOString()).toBe('2026-03-01T12:00:00.000Z');
    expect(JSON.parse(row.payload_text)).toEqual({ to: '+15550001111', text: 'hello' });
    expect(row.dedup_key).toBeNull();
  });

  it('takes maxAttempts from the message, then the type, then the queue', async () => {
    const app = testApp(stack.db);
    await enqueue(app, 'sms', [
      { ...sms(), maxAttempts: 2 },
      { type: 'any', payload: 1 },
      { type: 'any', payload: 2, maxAttempts: 100 },
    ]);
    expect((await rows()).map((r) => r.max_attempts)).toEqual([2, 3, 100]);
  });

  it('delays by delaySeconds or until availableAt, and treats a past availableAt as now', async () => {
    const app = testApp(stack.db);
    await enqueue(app, 'default', [
      { ...sms(), delaySeconds: 90 },
      { ...sms(), availableAt: '2026-03-02T00:00:00+02:00' },
      { ...sms(), availableAt: '2020-01-01T00:00:00Z' },
      { ...sms(), delaySeconds: ENQUEUE_LIMITS.maxDelaySeconds, priority: -100 },
      { ...sms(), priority: 100 },
    ]);
    const stored = await rows();
    expect(stored.map((r) => r.available_at.toISOString())).toEqual([
      '2026-03-01T12:01:30.000Z',
      '2026-03-01T22:00:00.000Z',
      '2026-03-01T12:00:00.000Z',
      '2027-03-01T12:00:00.000Z',
      '2026-03-01T12:00:00.000Z',
    ]);
    expect(stored.map((r) => r.priority)).toEqual([0, 0, 0, -100, 100]);
  });

  it('answers ids in the order given, and they sort in that order', async () => {
    const app = testApp(stack.db);
    const answers = await enqueue(
      app,
      'default',
      Array.from({ length: 50 }, (_, i) => sms(undefined, `m${i}`)),
    );
    const ids = answers.map((a) => a.id);
    expect([...ids].sort()).toEqual(ids);
    const stored = await rows();
    expect(stored.map((r) => JSON.parse(r.payload_text).text)).toEqual(answers.map((_, i) => `m${i}`));
  });

  it('stores strings exactly, 4-byte UTF-8 included', async () => {
    const app = testApp(stack.db);
    const text = 'Grüße 👋🏽 from 東京 — 𝔘𝔫𝔦𝔠𝔬𝔡𝔢, "quotes", back\\slash, tab\t, nul\u0000, line\nbreak';
    const dedupKey = 'order-🛒-42';
    const [answer] = await enqueue(app, 'default', [{ type: 'any', payload: { text, [`key-${'🔑'}`]: [text] }, dedupKey }]);
    const [row] = await rows();
    expect(row.dedup_key).toBe(dedupKey);
    expect(JSON.parse(row.payload_text)).toEqual({ text, 'key-🔑': [text] });
    const [again] = await enqueue(app, 'default', [{ type: 'any', payload: {}, dedupKey }]);
    expect(again).toEqual({ id: answer!.id, duplicate: true });
  });

  it('stores a batch whole or not at all', async () => {
    const app = testApp(stack.db);
    const batch = [sms(), sms(), { type: 'sms.send', payload: { to: 'nope', text: 'x' } }];
    await expect(enqueue(app, 'default', batch)).rejects.toBeInstanceOf(ValidationError);
    expect(await count()).toBe(0);
  });
});

describe('Data API calls', () => {
  it('a single message is one call', async () => {
    expect(await callsOf((app) => enqueue(app, 'default', [sms()]))).toBe(1);
  });

  it('a batch of 500 is one call', async () => {
    const batch = Array.from({ length: 500 }, (_, i) => ({ ...sms(undefined, `message ${i}`), dedupKey: `k${i}` }));
    expect(await callsOf((app) => enqueue(app, 'default', batch))).toBe(1);
    expect(await count()).toBe(500);
  });

  it('a batch of 500 payloads of 6 KB is one call', async () => {
    const batch = Array.from({ length: 500 }, (_, i) => ({ type: 'any', payload: { i, text: 'x'.repeat(6_000) } }));
    expect(await callsOf((app) => enqueue(app, 'default', batch))).toBe(1);
    expect(await count()).toBe(500);
  });

  it('duplicates found in the table cost one more call to read their ids', async () => {
    await enqueue(testApp(stack.db), 'default', [{ ...sms(), dedupKey: 'a' }]);
    expect(
      await callsOf((app) =>
        enqueue(app, 'default', [
          { ...sms(), dedupKey: 'a' },
          { ...sms(), dedupKey: 'b' },
        ]),
      ),
    ).toBe(2);
  });

  it('duplicates within one batch are settled without a second call', async () => {
    expect(
      await callsOf((app) =>
        enqueue(app, 'default', [
          { ...sms(), dedupKey: 'x' },
          { ...sms(), dedupKey: 'x' },
        ]),
      ),
    ).toBe(1);
  });
});

describe('dedupKey', () => {
  it('a repeat answers the stored id and says it was a duplicate', async () => {
    const app = testApp(stack.db);
    const [first] = await enqueue(app, 'default', [{ ...sms(), dedupKey: 'order-1' }]);
    const [second] = await enqueue(app, 'default', [{ ...sms('+15550002222', 'other'), dedupKey: 'order-1' }]);
    expect(second).toEqual({ id: first!.id, duplicate: true });
    const stored = await rows();
    expect(stored).toHaveLength(1);
    expect(JSON.parse(stored[0].payload_text).text).toBe('hello');
    expect(stored[0].dedup_hits).toBe(1);
  });

  it('is per queue', async () => {
    const app = testApp(stack.db);
    const [a] = await enqueue(app, 'default', [{ ...sms(), dedupKey: 'k' }]);
    const [b] = await enqueue(app, 'orders', [{ ...sms(), dedupKey: 'k' }]);
    expect(b!.duplicate).toBe(false);
    expect(b!.id).not.toBe(a!.id);
  });

  it('within a batch, later repeats are duplicates of the first; mixed with stored ones', async () => {
    const app = testApp(stack.db);
    const [stored] = await enqueue(app, 'default', [{ ...sms(), dedupKey: 'old' }]);
    const answers = await enqueue(app, 'default', [
      { ...sms(), dedupKey: 'new' },
      { ...sms(), dedupKey: 'old' },
      sms(),
      { ...sms(), dedupKey: 'new' },
      { ...sms(), dedupKey: 'old' },
    ]);
    expect(answers.map((a) => a.duplicate)).toEqual([false, true, false, true, true]);
    expect(answers[1]!.id).toBe(stored!.id);
    expect(answers[4]!.id).toBe(stored!.id);
    expect(answers[3]!.id).toBe(answers[0]!.id);
    expect(await count()).toBe(3);
  });

  it('a batch of 500 repeats of maximum-length keys is resolved in one read under the 1 MiB response', async () => {
    // 255 emoji each: 1,020 bytes stored, 3,060 in a response that writes them as \\uXXXX. The
    // read answers each key by its place in the batch, not by its text.
    const app = testApp(stack.db);
    const keys = Array.from({ length: 500 }, (_, i) => String(i).padStart(3, '0') + '😀'.repeat(ENQUEUE_LIMITS.maxDedupKeyChars - 3));
    const first = await enqueue(
      app,
      'default',
      keys.map((dedupKey) => ({ ...sms(), dedupKey })),
    );
    const again = testApp(stack.newDb());
    const repeats = await enqueue(
      again,
      'default',
      keys.map((dedupKey) => ({ ...sms(), dedupKey })),
    );
    expect(repeats).toEqual(first.map(({ id }) => ({ id, duplicate: true })));
    expect(again.db.stats.calls).toBe(2);
  });

  it('20 concurrent enqueues with the same dedupKey store one message and all answer its id', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => enqueue(testApp(stack.newDb()), 'default', [{ ...sms(undefined, `racer ${i}`), dedupKey: 'race' }])),
    );
    const stored = await rows();
    expect(stored).toHaveLength(1);
    expect(new Set(answers.map(([a]) => a!.id))).toEqual(new Set([stored[0].id]));
    expect(answers.filter(([a]) => !a!.duplicate)).toHaveLength(1);
  });

  it('refuses a key ending in a space, which MySQL would compare equal to the key without it', async () => {
    const app = testApp(stack.db);
    const error = await enqueue(app, 'default', [{ ...sms(), dedupKey: 'a ' }]).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ field: 'messages[0].dedupKey' });
  });
});

describe('refusals (nothing is written)', () => {
  afterEach(async () => expect(await count()).toBe(0));

  it('an undeclared queue is NotFoundError', async () => {
    const error = await enqueue(testApp(stack.db), 'nope', [sms()]).catch((e) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ code: 'unknown_queue', field: 'queue' });
  });

  it('an unknown type names the field and the registered types', async () => {
    const error = await enqueue(testApp(stack.db), 'default', [sms(), { type: 'fax.send', payload: {} }]).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'messages[1].type', rule: 'unknown_type' });
    expect(error.message).toContain('sms.send');
  });

  it("a type its queue does not carry names the field and the queue's types; the batch is refused whole", async () => {
    const config = defineConfig({ queues: [{ name: 'texts', types: ['sms.send'] }], jobTypes: [smsType, anyType] });
    const app = createApp({ db: stack.db, clock: new ManualClock('2026-03-01T12:00:00.000Z'), config, env: {} });
    const error = await enqueue(app, 'texts', [
      { type: 'sms.send', payload: { to: '+15550001111', text: 'hi' } },
      { type: 'any', payload: {} },
    ]).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: 'invalid_input', field: 'messages[1].type', rule: 'not_carried' });
    expect(error.message).toContain('"any" is not a type queue "texts" carries (its types: sms.send)');
  });

  it("a payload that fails its type's schema names the field inside the payload", async () => {
    const error = await enqueue(testApp(stack.db), 'default', [sms('12345')]).catch((e) => e);
    expect(error).toMatchObject({ field: 'messages[0].payload.to', rule: 'invalid_format:regex' });
  });

  it('lists every bad message, not only the first', async () => {
    const error = await enqueue(testApp(stack.db), 'default', [sms('1'), sms(), { ...sms(), priority: 101 }]).catch((e) => e);
    expect(error.issues.map((i: { field: string }) => i.field)).toEqual(['messages[0].payload.to', 'messages[2].priority']);
  });

  it('a payload over 1 MiB of JSON text is TooLargeError; exactly the limit is accepted', async () => {
    const app = testApp(stack.db);
    // {"text":"…"} is 11 bytes of JSON around the string.
    const fits = { type: 'any', payload: { text: 'x'.repeat(ENQUEUE_LIMITS.maxPayloadBytes - 11) } };
    const over = { type: 'any', payload: { text: 'x'.repeat(ENQUEUE_LIMITS.maxPayloadBytes - 10) } };
    const error = await enqueue(app, 'default', [over]).catch((e) => e);
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error).toMatchObject({ code: 'too_large', field: 'messages[0].payload', rule: 'max_bytes' });
    expect(error.message).toContain('1048576 bytes (1 MiB)');
    await enqueue(app, 'default', [fits]);
    await stack.sql.query('DELETE FROM queue_messages');
  });

  it('keeps a payload too large for its row in slices, counting the separators MySQL adds to a JSON column', async () => {
    // 18,432 zeros: 36,865 bytes compact, 55,296 (the inline cap) as MySQL returns it ("[0, 0, …]"): still in the row.
    const fits = Array.from({ length: ENQUEUE_LIMITS.maxInlinePayloadBytes / 3 }, () => 0);
    const [inRow] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: fits }]);
    const [sliced] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: [...fits, 0] }]);
    const [rows] = (await stack.sql.query('SELECT id, payload_parts FROM queue_messages ORDER BY id')) as any;
    expect(rows).toEqual([
      { id: inRow!.id, payload_parts: 0 },
      { id: sliced!.id, payload_parts: 1 },
    ]);
    await stack.sql.query('DELETE FROM queue_messages');
  });

  it('stores a 1 MiB payload in slices of at most 48 KiB, whole or not at all, and reads it back intact', async () => {
    const app = testApp(stack.db);
    // Multi-byte characters at every slice boundary would break a byte-wise split.
    const text = 'é€😀"\\x'.repeat(60_000).slice(0, 150_000);
    const payload = { text, n: 1 };
    const [answer] = await enqueue(app, 'default', [
      { type: 'any', payload },
      { type: 'any', payload: { small: true } },
    ]);
    const [parts] = (await stack.sql.query('SELECT part, bytes, LENGTH(data) AS stored FROM queue_payload_parts WHERE message_id = ? ORDER BY part', [
      answer!.id,
    ])) as any;
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(part.bytes).toBeLessThanOrEqual(ENQUEUE_LIMITS.payloadPartBytes);
    expect(await getMessageDetail(app, answer!.id)).toMatchObject({ payload });
    await stack.sql.query('DELETE FROM queue_messages');
    const [[left]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_payload_parts')) as any;
    expect(Number(left.n)).toBe(0); // deleted with their message
  });

  it('multi-byte characters count as their UTF-8 bytes', async () => {
    const emoji = '😀'.repeat(Math.ceil(ENQUEUE_LIMITS.maxPayloadBytes / 4));
    const error = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: emoji }]).catch((e) => e);
    expect(error).toBeInstanceOf(TooLargeError);
  });

  it('a batch whose Data API request would pass 4 MiB is TooLargeError', async () => {
    // Quotes are escaped twice on the way (inside the batch document, then by the request).
    const quotes = Array.from({ length: 60 }, () => ({ type: 'any', payload: '"'.repeat(15_000) }));
    const error = await enqueue(testApp(stack.db), 'default', quotes).catch((e) => e);
    expect(error).toBeInstanceOf(TooLargeError);
    expect(error.rule).toBe('max_request_bytes');
  });

  it('nesting past what MySQL and MariaDB store is refused', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < ENQUEUE_LIMITS.maxPayloadDepth + 1; i++) deep = [deep];
    const error = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: deep }]).catch((e) => e);
    expect(error).toMatchObject({ field: 'messages[0].payload', rule: 'max_depth' });
  });

  it('lone surrogates and non-JSON values in a payload are refused', async () => {
    const app = testApp(stack.db);
    const lone = await enqueue(app, 'default', [{ type: 'any', payload: { a: ['ok', 'bad \ud800'] } }]).catch((e) => e);
    expect(lone).toMatchObject({ field: 'messages[0].payload.a[1]', rule: 'unicode' });
    const date = await enqueue(app, 'default', [{ type: 'any', payload: { at: new Date() } }]).catch((e) => e);
    expect(date).toBeInstanceOf(ValidationError);
    expect(date).not.toBeInstanceOf(TooLargeError);
  });

  it('an empty batch or one over 500 is refused', async () => {
    const app = testApp(stack.db);
    await expect(enqueue(app, 'default', [])).rejects.toMatchObject({ code: 'invalid_input', field: 'messages', rule: 'too_small' });
    const big = Array.from({ length: 501 }, () => sms());
    await expect(enqueue(app, 'default', big)).rejects.toMatchObject({ code: 'invalid_input', field: 'messages', rule: 'too_big' });
  });
});

describe('enqueueRequest (the HTTP body)', () => {
  it('names fields as they appear in a single-message body', async () => {
    const error = await enqueueRequest(testApp(stack.db), 'default', { ...sms(), delaySeconds: -1 }).catch((e) => e);
    expect(error).toMatchObject({ field: 'delaySeconds', rule: 'too_small' });
  });

  it('answers a single message as such and a batch as a batch', async () => {
    const app = testApp(stack.db);
    expect(await enqueueRequest(app, 'default', sms())).toMatchObject({ batch: false, messages: [{ duplicate: false }] });
    expect(await enqueueRequest(app, 'default', { messages: [sms(), sms()] })).toMatchObject({ batch: true, messages: [{}, {}] });
  });
});

describe('enqueueInTransaction (outbox)', () => {
  it('commits the business row and its messages together', async () => {
    const app = testApp(stack.db);
    let ids: string[] = [];
    await stack.db.transaction(async (tx) => {
      await tx.execute('INSERT INTO invoices (id, total) VALUES (:id, :total)', { id: 'o-1', total: 42 });
      ids = (await enqueueInTransaction(app, tx.transactionId!, 'orders', [sms(), { ...sms(), dedupKey: 'order-o-1' }])).map((a) => a.id);
      // Not visible outside the transaction before commit.
      expect(await count()).toBe(0);
    });
    const [invoices] = (await stack.sql.query('SELECT * FROM invoices')) as any;
    expect(invoices).toHaveLength(1);
    expect((await rows()).map((r) => r.id)).toEqual(ids);
  });

  it('rolls back neither without the other', async () => {
    const app = testApp(stack.db);
    await expect(
      stack.db.transaction(async (tx) => {
        await tx.execute('INSERT INTO invoices (id, total) VALUES (:id, :total)', { id: 'o-2', total: 7 });
        await enqueueInTransaction(app, tx.transactionId!, 'orders', [sms(), sms()]);
        throw new Error('payment declined');
      }),
    ).rejects.toThrow('payment declined');
    const [invoices] = (await stack.sql.query('SELECT * FROM invoices')) as any;
    expect(invoices).toHaveLength(0);
    expect(await count()).toBe(0);
  });

  it('a refused message writes nothing into the transaction', async () => {
    const app = testApp(stack.db);
    await stack.db.transaction(async (tx) => {
      await tx.execute('INSERT INTO invoices (id, total) VALUES (:id, :total)', { id: 'o-3', total: 1 });
      await expect(enqueueInTransaction(app, tx.transactionId!, 'orders', [sms('bad')])).rejects.toBeInstanceOf(ValidationError);
    });
    expect(await count()).toBe(0);
  });
});

describe('examples/outbox.ts (a caller holding its own transaction through the SDK)', () => {
  // The shipped queue.config.ts, so the example's payload is checked against the real sms.send schema.
  const shippedApp = () => createApp({ config: queueConfig, db: stack.db, env: {} });
  const database = () => ({ resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database });

  beforeEach(async () => {
    await stack.sql.query('DELETE FROM orders');
    await stack.sql.query('DELETE FROM inventory');
    await stack.sql.query("INSERT INTO inventory VALUES ('tee', 1)");
  });

  it('commits the order, the stock taken and the SMS together', async () => {
    const client = createDataApiClient({ endpoint: stack.endpoint });
    const { smsId } = await placeOrder(client, shippedApp(), database(), { id: 'o-10', sku: 'tee', quantity: 1, phone: '+15550001111' });
    const [[order]] = (await stack.sql.query('SELECT * FROM orders')) as any;
    expect(order.id).toBe('o-10');
    const [[stock]] = (await stack.sql.query('SELECT stock FROM inventory')) as any;
    expect(stock.stock).toBe(0);
    const [message] = await rows();
    expect(message).toMatchObject({ id: smsId, queue: 'orders', dedup_key: 'order-confirmed:o-10' });
  });

  it('rolls back the order and the SMS when the stock is short', async () => {
    const client = createDataApiClient({ endpoint: stack.endpoint });
    await expect(placeOrder(client, shippedApp(), database(), { id: 'o-11', sku: 'tee', quantity: 2, phone: '+15550001111' })).rejects.toBeInstanceOf(
      OutOfStockError,
    );
    const [orders] = (await stack.sql.query('SELECT * FROM orders')) as any;
    expect(orders).toHaveLength(0);
    expect(await count()).toBe(0);
    expect(stack.server.stats().openTransactions).toBe(0);
  });
});
