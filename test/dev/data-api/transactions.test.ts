/**
 * Data API transactions through the SDK: pinning, commit, rollback, unknown/ended/expired ids,
 * one call at a time, MySQL errors inside a transaction, and the call timeout.
 */
import { DatabaseErrorException, StatementTimeoutException, TransactionNotFoundException } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, startConformance, type Conformance } from './support.js';

let api: Conformance;
/** Servers with a short idle expiry, and with a short call timeout (each with its own database). */
let expiring: Conformance;
let quick: Conformance;

const count = async (where = '1 = 1') => (await api.execute(`SELECT COUNT(*) FROM items WHERE ${where}`)).records![0]![0]!.longValue;

beforeAll(async () => {
  api = await startConformance();
  expiring = await startConformance({ transactionIdleTimeoutMs: 300 });
  quick = await startConformance({ callTimeoutMs: 400 });
  for (const server of [api, expiring, quick]) await server.execute('CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL)');
});

afterAll(async () => {
  await quick?.close();
  await expiring?.close();
  await api?.close();
});

const insert = (name: string, transactionId?: string, on = api) =>
  on.execute('INSERT INTO items (name) VALUES (:name)', { name: { stringValue: name } }, { transactionId });

describe('BeginTransaction / CommitTransaction / RollbackTransaction', () => {
  it('returns a long random id and pins one connection to it', async () => {
    const id = await api.begin();
    expect(id.length).toBeGreaterThanOrEqual(100);
    expect(id.length).toBeLessThanOrEqual(192);
    const other = await api.begin();
    expect(other).not.toBe(id);
    await api.rollback(other);
    const first = await api.execute('SELECT CONNECTION_ID()', undefined, { transactionId: id });
    await insert('pinned', id);
    // Session state holds within the transaction: the same connection, LAST_INSERT_ID() included.
    const again = await api.execute('SELECT CONNECTION_ID(), LAST_INSERT_ID() > 0', undefined, { transactionId: id });
    expect(again.records![0]![0]).toEqual(first.records![0]![0]);
    expect(again.records![0]![1]).toEqual({ longValue: 1 });
    await api.rollback(id);
  });

  it('commits: the writes become visible to other calls', async () => {
    const id = await api.begin();
    await insert('committed', id);
    expect(await count("name = 'committed'")).toBe(0);
    expect(await api.commit(id)).toBe('Transaction Committed');
    expect(await count("name = 'committed'")).toBe(1);
    expect(api.server.stats().openTransactions).toBe(0);
  });

  it('rolls back: the writes are gone', async () => {
    const id = await api.begin();
    await insert('rolled-back', id);
    await api.batch('INSERT INTO items (name) VALUES (:name)', [{ name: { stringValue: 'rolled-back' } }], id);
    expect(await api.rollback(id)).toBe('Rollback Complete');
    expect(await count("name = 'rolled-back'")).toBe(0);
  });

  it('answers TransactionNotFoundException for an unknown id', async () => {
    const error = await failure(api.execute('SELECT 1', undefined, { transactionId: 'no-such-transaction' }));
    expect(error).toBeInstanceOf(TransactionNotFoundException);
    expect(error.message).toBe("Transaction no-such-transaction isn't found");
    expect(await failure(api.commit('no-such-transaction'))).toBeInstanceOf(TransactionNotFoundException);
    expect(await failure(api.rollback('no-such-transaction'))).toBeInstanceOf(TransactionNotFoundException);
  });

  it('answers TransactionNotFoundException, with the reason, once a transaction ended', async () => {
    const committed = await api.begin();
    await api.commit(committed);
    const afterCommit = await failure(api.execute('SELECT 1', undefined, { transactionId: committed }));
    expect(afterCommit).toBeInstanceOf(TransactionNotFoundException);
    expect(afterCommit.message).toBe(`Transaction ${committed} isn't found: the transaction was already committed`);

    const rolledBack = await api.begin();
    await api.rollback(rolledBack);
    const afterRollback = await failure(api.commit(rolledBack));
    expect(afterRollback).toBeInstanceOf(TransactionNotFoundException);
    expect(afterRollback.message).toMatch(/rolled back$/);
  });

  it('rolls back a transaction idle past the timeout', async () => {
    const id = await expiring.begin();
    await insert('expired', id, expiring);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const error = await failure(expiring.execute('SELECT 1', undefined, { transactionId: id }));
    expect(error).toBeInstanceOf(TransactionNotFoundException);
    expect(error.message).toMatch(/expired after 0.3 seconds without a call and was rolled back$/);
    expect((await expiring.execute("SELECT COUNT(*) FROM items WHERE name = 'expired'")).records).toEqual([[{ longValue: 0 }]]);
    expect(expiring.server.stats().openTransactions).toBe(0);
  });

  it('keeps a transaction alive while calls keep coming', async () => {
    const id = await expiring.begin();
    for (let i = 0; i < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await expiring.execute('SELECT 1', undefined, { transactionId: id });
    }
    expect(await expiring.commit(id)).toBe('Transaction Committed');
  });
});

describe('one call at a time', () => {
  it('refuses a second call while the first is running', async () => {
    const id = await api.begin();
    const slow = api.execute('SELECT SLEEP(0.5)', undefined, { transactionId: id });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const busy = await failure(api.execute('SELECT 1', undefined, { transactionId: id }));
    expect(busy).toBeInstanceOf(DatabaseErrorException);
    expect(busy.message).toBe('Transaction is still running a query');
    expect(await failure(api.commit(id))).toBeInstanceOf(DatabaseErrorException);
    await slow;
    expect(await api.commit(id)).toBe('Transaction Committed');
  });
});

describe('MySQL errors inside a transaction', () => {
  it('keeps the transaction open after an ordinary SQL error', async () => {
    const id = await api.begin();
    await insert('survivor', id);
    expect(await failure(api.execute('SELECT nope FROM items', undefined, { transactionId: id }))).toBeInstanceOf(DatabaseErrorException);
    await api.commit(id);
    expect(await count("name = 'survivor'")).toBe(1);
  });

  it('keeps the transaction open after a lock wait timeout (1205)', async () => {
    const holder = await api.begin();
    const waiter = await api.begin();
    await api.execute("UPDATE items SET name = 'held' WHERE name = 'survivor'", undefined, { transactionId: holder });
    await api.execute('SET SESSION innodb_lock_wait_timeout = 1', undefined, { transactionId: waiter });
    const error = await failure(api.execute("UPDATE items SET name = 'waited' WHERE name = 'survivor'", undefined, { transactionId: waiter }));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/Error code: 1205; SQLState: HY000$/);
    expect((await api.execute('SELECT 1', undefined, { transactionId: waiter })).records).toEqual([[{ longValue: 1 }]]);
    await api.rollback(waiter);
    await api.rollback(holder);
  });

  it('ends the transaction after a deadlock (1213): later calls are told it was aborted', async () => {
    await api.execute("INSERT INTO items (id, name) VALUES (1001, 'a'), (1002, 'b')");
    const one = await api.begin();
    const two = await api.begin();
    await api.execute("UPDATE items SET name = 'one' WHERE id = 1001", undefined, { transactionId: one });
    await api.execute("UPDATE items SET name = 'two' WHERE id = 1002", undefined, { transactionId: two });
    const first = api.execute("UPDATE items SET name = 'one' WHERE id = 1002", undefined, { transactionId: one }).then(
      () => 'ok' as const,
      (error: Error) => error,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await api.execute("UPDATE items SET name = 'two' WHERE id = 1001", undefined, { transactionId: two }).then(
      () => 'ok' as const,
      (error: Error) => error,
    );
    const outcomes = [await first, second];
    const victim = outcomes[0] === 'ok' ? two : one;
    const survivor = victim === one ? two : one;
    const deadlock = outcomes.find((outcome) => outcome !== 'ok') as Error;
    expect(deadlock).toBeInstanceOf(DatabaseErrorException);
    expect(deadlock.message).toMatch(/Error code: 1213; SQLState: 40001$/);

    const later = await failure(api.execute('SELECT 1', undefined, { transactionId: victim }));
    expect(later).toBeInstanceOf(TransactionNotFoundException);
    expect(later.message).toMatch(/aborted due to an error from a previous call$/);
    expect(await api.commit(survivor)).toBe('Transaction Committed');
  });

  it('commits DDL implicitly, as MySQL does', async () => {
    const id = await api.begin();
    await insert('before-ddl', id);
    await api.execute('CREATE TABLE ddl_in_tx (x INT)', undefined, { transactionId: id });
    await api.rollback(id);
    expect(await count("name = 'before-ddl'")).toBe(1);
  });
});

describe('call timeout', () => {
  const running = async (marker: string) =>
    (
      await api.execute(
        'SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE :pattern AND ID <> CONNECTION_ID()',
        { pattern: { stringValue: `%${marker}%` } },
        {},
      )
    ).records![0]![0]!.longValue!;

  it('answers StatementTimeoutException with the connection id and kills the statement', async () => {
    const error = await failure(quick.execute("SELECT SLEEP(5), 'kill-me'"));
    expect(error).toBeInstanceOf(StatementTimeoutException);
    expect(typeof (error as unknown as StatementTimeoutException).dbConnectionId).toBe('number');
    expect(
      await eventually(
        () => running('kill-me'),
        (n) => n === 0,
      ),
    ).toBe(0);
  });

  it('lets the statement finish with continueAfterTimeout', async () => {
    const error = await failure(
      quick.execute("INSERT INTO items (name) SELECT 'slow-insert' FROM (SELECT SLEEP(0.8)) AS pause", undefined, { continueAfterTimeout: true }),
    );
    expect(error).toBeInstanceOf(StatementTimeoutException);
    const inserted = () => quick.execute("SELECT COUNT(*) FROM items WHERE name = 'slow-insert'").then((r) => r.records![0]![0]!.longValue);
    expect(await eventually(inserted, (n) => n === 1)).toBe(1);
  });

  it('keeps a transaction busy until a continued statement finishes, and open after a killed one', async () => {
    const id = await quick.begin();
    expect(await failure(quick.execute('SELECT SLEEP(0.8)', undefined, { transactionId: id, continueAfterTimeout: true }))).toBeInstanceOf(
      StatementTimeoutException,
    );
    expect((await failure(quick.execute('SELECT 1', undefined, { transactionId: id }))).message).toBe('Transaction is still running a query');
    expect(await whenNotBusy(() => quick.execute('SELECT SLEEP(5)', undefined, { transactionId: id })).catch((e: unknown) => e)).toBeInstanceOf(
      StatementTimeoutException,
    );
    expect((await whenNotBusy(() => quick.execute('SELECT 2', undefined, { transactionId: id }))).records).toEqual([[{ longValue: 2 }]]);
    expect(await quick.commit(id)).toBe('Transaction Committed');
  });
});

/**
 * Runs `call` once the transaction's previous statement has ended on the server. How long a
 * continued or killed statement takes to end depends on the machine's load, so poll rather than
 * sleep a fixed time.
 */
async function whenNotBusy<T>(call: () => Promise<T>, deadlineMs = 10_000): Promise<T> {
  const giveUpAt = Date.now() + deadlineMs;
  for (;;) {
    try {
      return await call();
    } catch (error) {
      const busy = error instanceof Error && error.message === 'Transaction is still running a query';
      if (!busy || Date.now() > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Polls `read` until `done` holds or the deadline passes; returns the last value read. */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, deadlineMs = 10_000): Promise<T> {
  const giveUpAt = Date.now() + deadlineMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > giveUpAt) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
