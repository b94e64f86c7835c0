/**
 * The access layer against the real stack: SDK → local Data API server → MariaDB.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDb, DataApiUnavailableError, DeadlockError, DuplicateKeyError, TransactionNotFoundError, type CreateDbOptions } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from '../support/stack.js';

const stack = useStack({ migrate: false });

beforeAll(async () => {
  await stack.db.execute(`CREATE TABLE items (
    id INT AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    n INT NOT NULL DEFAULT 0,
    UNIQUE KEY ux_items_name (name)
  ) ENGINE=InnoDB`);
  await stack.db.execute(`CREATE TABLE kinds (
    id INT AUTO_INCREMENT PRIMARY KEY,
    at DATETIME(3) NULL,
    doc JSON NULL,
    txt VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    data BLOB NULL,
    big BIGINT NULL,
    price DECIMAL(10,4) NULL,
    flag TINYINT(1) NULL,
    ratio DOUBLE NULL
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
});

beforeEach(async () => {
  stack.server.faults.clear();
  await stack.sql.query('DELETE FROM items');
});

/** A Db on the stack's database whose retry waits are recorded instead of slept. */
function dbWithFakeSleep(options: Partial<CreateDbOptions> = {}): { db: Db; slept: number[] } {
  const slept: number[] = [];
  const db = createDb({
    endpoint: stack.endpoint,
    resourceArn: RESOURCE_ARN,
    secretArn: SECRET_ARN,
    database: stack.database,
    sleep: async (ms) => void slept.push(ms),
    ...options,
  });
  return { db, slept };
}

async function itemNames(): Promise<string[]> {
  const [rows] = await stack.sql.query('SELECT name FROM items ORDER BY name');
  return (rows as { name: string }[]).map((row) => row.name);
}

describe('values', () => {
  it('round-trip through parameters and decoded rows', async () => {
    const at = new Date('2026-03-04T05:06:07.089Z');
    const doc = { to: '+49 151 0000', tags: ['a', 'ü'], nested: { ok: true, n: 1.5 }, none: null };
    const data = new Uint8Array([0, 1, 127, 128, 255]);
    const { insertId } = await stack.db.execute(
      'INSERT INTO kinds (at, doc, txt, data, big, price, flag, ratio) VALUES (:at, :doc, :txt, :data, :big, :price, :flag, :ratio)',
      { at, doc, txt: 'Grüße 👋🏽 日本', data, big: 9007199254740993n, price: '123456.7890', flag: true, ratio: 0.1 },
    );
    expect(insertId).toBeGreaterThan(0);

    const [row] = await stack.db.query('SELECT id, at, doc, txt, data, CAST(big AS CHAR) AS big, price, flag, ratio FROM kinds WHERE id = :id', {
      id: insertId,
    });
    expect(row).toEqual({ id: insertId, at, doc, txt: 'Grüße 👋🏽 日本', data, big: '9007199254740993', price: '123456.7890', flag: true, ratio: 0.1 });
    expect(row!.data).toBeInstanceOf(Uint8Array);
  });

  it('round-trip NULL from null and undefined', async () => {
    const { insertId } = await stack.db.execute('INSERT INTO kinds (at, doc, txt) VALUES (:at, :doc, :txt)', { at: null, doc: undefined, txt: null });
    const [row] = await stack.db.query('SELECT at, doc, txt, data, big FROM kinds WHERE id = :id', { id: insertId });
    expect(row).toEqual({ at: null, doc: null, txt: null, data: null, big: null });
  });

  it('read as JSON records: JSON types, DATETIME, DECIMAL and JSON columns as their text, and no rows as none', async () => {
    const { insertId } = await stack.db.execute(
      'INSERT INTO kinds (at, doc, txt, big, price, flag, ratio) VALUES (:at, :doc, :txt, :big, :price, :flag, :ratio)',
      { at: new Date('2026-03-04T05:06:07.089Z'), doc: { a: [1, 'ü'] }, txt: 'Grüße "👋🏽"\n', big: 9007199254740991, price: '1.5000', flag: true, ratio: 0.25 },
    );
    const rows = await stack.db.query(
      'SELECT id, at, doc, txt, big, price, flag, ratio, data FROM kinds WHERE id = :id',
      { id: insertId },
      { jsonRecords: true },
    );
    // The JSON column's text as the server keeps it (MySQL reformats it, MariaDB does not).
    expect(JSON.parse(rows[0]!.doc as string)).toEqual({ a: [1, 'ü'] });
    expect(rows).toEqual([
      {
        id: insertId,
        at: '2026-03-04 05:06:07.089',
        doc: expect.any(String),
        txt: 'Grüße "👋🏽"\n',
        big: 9007199254740991,
        price: '1.5000',
        flag: true,
        ratio: 0.25,
        data: null,
      },
    ]);
    expect(await stack.db.query('SELECT id FROM kinds WHERE id = -1', {}, { jsonRecords: true })).toEqual([]);
  });

  it('reports affected rows and reads back nothing for no match', async () => {
    await stack.db.batch('INSERT INTO items (name) VALUES (:name)', [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    expect(await stack.db.execute('UPDATE items SET n = n + 1 WHERE name IN (:x, :y)', { x: 'a', y: 'b' })).toMatchObject({ numberOfRecordsUpdated: 2 });
    expect(await stack.db.query('SELECT * FROM items WHERE name = :name', { name: 'zzz' })).toEqual([]);
  });

  it('returns one insert id per parameter set from a batch, and makes no call for no sets', async () => {
    const { updateResults } = await stack.db.batch('INSERT INTO items (name) VALUES (:name)', [{ name: 'x' }, { name: 'y' }]);
    expect(updateResults).toHaveLength(2);
    expect(updateResults[1]!.insertId).toBe(updateResults[0]!.insertId! + 1);
    const db = stack.newDb();
    expect(await db.batch('INSERT INTO items (name) VALUES (:name)', [])).toEqual({ updateResults: [] });
    expect(db.stats.calls).toBe(0);
  });
});

describe('errors', () => {
  it('surface a duplicate key as DuplicateKeyError with mysqlCode 1062', async () => {
    await stack.db.execute('INSERT INTO items (name) VALUES (:name)', { name: 'dup' });
    const error = await stack.db.execute('INSERT INTO items (name) VALUES (:name)', { name: 'dup' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateKeyError);
    expect(error).toMatchObject({ mysqlCode: 1062, retryable: false });
    expect((error as Error).message).not.toMatch(/INSERT/);
  });
});

describe('transaction', () => {
  it('commits the work and returns its result', async () => {
    const result = await stack.db.transaction(async (tx) => {
      expect(tx.transactionId).toEqual(expect.any(String));
      await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'one' });
      await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'two' });
      return 'done';
    });
    expect(result).toBe('done');
    expect(await itemNames()).toEqual(['one', 'two']);
  });

  it('rolls back on a thrown error, writes nothing and rethrows the error', async () => {
    const boom = new Error('work failed');
    const db = stack.newDb();
    await expect(
      db.transaction(async (tx) => {
        await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'never' });
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await itemNames()).toEqual([]);
    expect(db.stats.byOperation).toEqual({ BeginTransaction: 1, Execute: 1, RollbackTransaction: 1 });
  });

  it('rolls back when a statement fails, and the error is the statement error', async () => {
    await stack.db.execute('INSERT INTO items (name) VALUES (:name)', { name: 'taken' });
    const error = await stack.db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'fresh' });
        await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'taken' });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DuplicateKeyError);
    expect(await itemNames()).toEqual(['taken']);
  });

  it('serializes calls fired at once inside one transaction', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const db = stack.newDb();
    await db.transaction(async (tx) => {
      await Promise.all(names.map((name) => tx.execute('INSERT INTO items (name) VALUES (:name)', { name })));
      const rows = await tx.query('SELECT COUNT(*) AS n FROM items');
      expect(rows[0]!.n).toBe(12);
    });
    expect(await itemNames()).toEqual(names);
    // Exactly one call per statement: none was refused as "still running a query" and re-sent.
    expect(db.stats.byOperation).toEqual({ BeginTransaction: 1, Execute: 13, CommitTransaction: 1 });
  });

  it('waits for calls the work left running before it commits', async () => {
    await stack.db.transaction(async (tx) => {
      void tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'floating' });
    });
    expect(await itemNames()).toEqual(['floating']);
  });

  it('runs a nested transaction() in the same transaction', async () => {
    await expect(
      stack.db.transaction(async (tx) => {
        await tx.transaction(async (inner) => {
          expect(inner.transactionId).toBe(tx.transactionId);
          await inner.execute('INSERT INTO items (name) VALUES (:name)', { name: 'inner' });
        });
        throw new Error('outer fails');
      }),
    ).rejects.toThrow('outer fails');
    expect(await itemNames()).toEqual([]);
  });

  it('refuses calls on a transaction that has ended', async () => {
    let leaked: Db | undefined;
    await stack.db.transaction(async (tx) => {
      leaked = tx;
    });
    await expect(leaked!.query('SELECT 1')).rejects.toBeInstanceOf(TransactionNotFoundError);
  });

  it('re-runs the work after a real deadlock and both transactions succeed', async () => {
    await stack.db.batch('INSERT INTO items (name, n) VALUES (:name, 0)', [{ name: 'left' }, { name: 'right' }]);
    // Each transaction locks one row, waits until the other has locked its row, then asks for
    // the other's row: InnoDB detects the cycle and rolls one of them back (1213).
    let bothLocked!: () => void;
    let locked = 0;
    const barrier = new Promise<void>((resolve) => (bothLocked = resolve));
    const runs = { a: 0, b: 0 };
    const db = dbWithFakeSleep().db;

    const transfer = (key: 'a' | 'b', first: string, second: string) =>
      db.transaction(async (tx) => {
        runs[key]++;
        await tx.execute('UPDATE items SET n = n + 1 WHERE name = :name', { name: first });
        if (runs[key] === 1) {
          if (++locked === 2) bothLocked();
          await barrier;
        }
        await tx.execute('UPDATE items SET n = n + 1 WHERE name = :name', { name: second });
      });

    await Promise.all([transfer('a', 'left', 'right'), transfer('b', 'right', 'left')]);
    expect(runs.a + runs.b).toBe(3);
    const [rows] = await stack.sql.query('SELECT name, n FROM items ORDER BY name');
    expect(rows).toEqual([
      { name: 'left', n: 2 },
      { name: 'right', n: 2 },
    ]);
    expect(db.stats.byOperation.BeginTransaction).toBe(3);
    expect(db.stats.byOperation.CommitTransaction).toBe(2);
  });

  it('gives up after transactionRetries deadlocks and rethrows DeadlockError', async () => {
    const { db } = dbWithFakeSleep({ transactionRetries: 2 });
    let runs = 0;
    const error = await db
      .transaction(async () => {
        runs++;
        throw new DeadlockError('Deadlock found when trying to get lock', { mysqlCode: 1213 });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlockError);
    expect(runs).toBe(3);
    expect(db.stats.byOperation).toEqual({ BeginTransaction: 3, RollbackTransaction: 3 });
  });
});

describe('withTransactionId', () => {
  it("joins the caller's transaction: its writes commit with it", async () => {
    const other = stack.newDb();
    await stack.db.transaction(async (tx) => {
      await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'owner' });
      const joined = other.withTransactionId(tx.transactionId!);
      expect(joined.transactionId).toBe(tx.transactionId);
      await joined.execute('INSERT INTO items (name) VALUES (:name)', { name: 'joined' });
      // transaction() on a joined Db runs in the caller's transaction, without committing it.
      await joined.transaction(async (inner) => {
        await inner.execute('INSERT INTO items (name) VALUES (:name)', { name: 'joined-inner' });
      });
      expect(await stack.sql.query('SELECT name FROM items').then(([rows]) => rows)).toEqual([]);
    });
    expect(await itemNames()).toEqual(['joined', 'joined-inner', 'owner']);
    expect(other.stats.byOperation).toEqual({ Execute: 2 });
  });

  it("is discarded when the caller's transaction rolls back", async () => {
    const other = stack.newDb();
    await expect(
      stack.db.transaction(async (tx) => {
        await other.withTransactionId(tx.transactionId!).execute('INSERT INTO items (name) VALUES (:name)', { name: 'joined' });
        throw new Error('owner fails');
      }),
    ).rejects.toThrow('owner fails');
    expect(await itemNames()).toEqual([]);
  });

  it('shares the call queue with the transaction it came from', async () => {
    await stack.db.transaction(async (tx) => {
      const joined = tx.withTransactionId(tx.transactionId!);
      await Promise.all([
        tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'p' }),
        joined.execute('INSERT INTO items (name) VALUES (:name)', { name: 'q' }),
        tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'r' }),
      ]);
    });
    expect(await itemNames()).toEqual(['p', 'q', 'r']);
  });
});

describe('retries against injected faults', () => {
  it('waits out a resuming database with the backoff schedule', async () => {
    const { db, slept } = dbWithFakeSleep();
    stack.server.faults.inject({ kind: 'resuming', count: 3 });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(slept).toEqual([2_000, 5_000]);
    expect(db.stats.calls).toBe(4);
    expect(stack.server.faults.injected()).toBeGreaterThanOrEqual(3);
  });

  it('waits out a resuming database for Begin and for a write inside the transaction', async () => {
    const { db } = dbWithFakeSleep();
    stack.server.faults.inject({ kind: 'resuming', count: 2, operations: ['BeginTransaction'] });
    stack.server.faults.inject({ kind: 'resuming', count: 1, operations: ['Execute'] });
    await db.transaction(async (tx) => {
      await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'woke' });
    });
    expect(await itemNames()).toEqual(['woke']);
    expect(db.stats.byOperation).toEqual({ BeginTransaction: 3, Execute: 2, CommitTransaction: 1 });
  });

  it('does not re-send a non-idempotent write after a 503, even though it ran', async () => {
    const { db } = dbWithFakeSleep();
    stack.server.faults.inject({ kind: 'unavailable-after', count: 1, operations: ['Execute'] });
    const error = await db.execute('INSERT INTO items (name) VALUES (:name)', { name: 'once' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataApiUnavailableError);
    expect(error).toMatchObject({ retryable: true, requestMayHaveRun: true });
    expect(db.stats.calls).toBe(1);
    // The insert did happen: re-sending it would have hit the unique key (or, without one, duplicated it).
    expect(await itemNames()).toEqual(['once']);
  });

  it('does not re-send a non-idempotent write after a 503 before it ran either', async () => {
    const { db } = dbWithFakeSleep();
    stack.server.faults.inject({ kind: 'unavailable', count: 1 });
    await expect(db.execute('INSERT INTO items (name) VALUES (:name)', { name: 'lost' })).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect(db.stats.calls).toBe(1);
    expect(await itemNames()).toEqual([]);
  });

  it('re-sends an idempotent read and an idempotent write after 5xx', async () => {
    const { db, slept } = dbWithFakeSleep();
    stack.server.faults.inject({ kind: 'unavailable', count: 1 });
    stack.server.faults.inject({ kind: 'internal', count: 1 });
    expect(await db.query('SELECT 2 AS two', undefined, { idempotent: true })).toEqual([{ two: 2 }]);
    expect(db.stats.calls).toBe(3);
    expect(slept).toEqual([100, 500]);

    await stack.sql.query("INSERT INTO items (name) VALUES ('w')");
    stack.server.faults.inject({ kind: 'unavailable-after', count: 1 });
    const result = await db.execute('UPDATE items SET n = 5 WHERE name = :name', { name: 'w' }, { idempotent: true });
    expect(result.numberOfRecordsUpdated).toBe(1);
    expect(db.stats.calls).toBe(5);
  });

  it('reports a Commit lost to a 503 instead of re-sending it', async () => {
    const { db } = dbWithFakeSleep();
    stack.server.faults.inject({ kind: 'unavailable', count: 1, operations: ['CommitTransaction'] });
    const error = await db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'maybe' });
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataApiUnavailableError);
    expect(db.stats.byOperation).toEqual({ BeginTransaction: 1, Execute: 1, CommitTransaction: 1, RollbackTransaction: 1 });
    // The 503 came before the commit ran, so the rollback that followed discarded the insert.
    expect(await itemNames()).toEqual([]);
  });

  it('reports a Commit whose reply was lost as unavailable, though it committed', async () => {
    const { db } = dbWithFakeSleep();
    stack.server.faults.inject({ kind: 'unavailable-after', count: 1, operations: ['CommitTransaction'] });
    const error = await db
      .transaction(async (tx) => {
        await tx.execute('INSERT INTO items (name) VALUES (:name)', { name: 'committed' });
      })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ retryable: true, requestMayHaveRun: true });
    expect(db.stats.byOperation.CommitTransaction).toBe(1);
    expect(await itemNames()).toEqual(['committed']);
  });
});

describe('stats', () => {
  it('count every Data API call by operation, shared by the Dbs derived from one', async () => {
    const db = stack.newDb();
    await db.query('SELECT 1');
    await db.execute('INSERT INTO items (name) VALUES (:name)', { name: 's1' });
    await db.batch('INSERT INTO items (name) VALUES (:name)', [{ name: 's2' }, { name: 's3' }]);
    await db.transaction(async (tx) => {
      await tx.query('SELECT COUNT(*) AS n FROM items');
      await tx.execute('UPDATE items SET n = 1');
      expect(tx.stats).toBe(db.stats);
    });
    const joined = db.withTransactionId('unknown-transaction');
    await expect(joined.query('SELECT 1')).rejects.toBeInstanceOf(TransactionNotFoundError);
    expect(db.stats).toEqual({
      calls: 8,
      byOperation: { Execute: 5, BatchExecute: 1, BeginTransaction: 1, CommitTransaction: 1 },
    });
    expect(stack.newDb().stats).toEqual({ calls: 0, byOperation: {} });
  });
});
