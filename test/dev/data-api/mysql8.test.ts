/**
 * The local server's sessions refuse what Aurora MySQL 3 (MySQL 8.0) refuses: they run with
 * MySQL 8.0's default sql_mode and REPEATABLE READ, not MariaDB's defaults, so a statement the
 * tests pass is one Aurora would accept. Driven only through the SDK, as the product is.
 */
import { DatabaseErrorException } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, startConformance, type Conformance } from './support.js';

let api: Conformance;

/** https://dev.mysql.com/doc/refman/8.0/en/sql-mode.html#sql-mode-setting */
const MYSQL_80_DEFAULT_SQL_MODE = [
  'ONLY_FULL_GROUP_BY',
  'STRICT_TRANS_TABLES',
  'NO_ZERO_IN_DATE',
  'NO_ZERO_DATE',
  'ERROR_FOR_DIVISION_BY_ZERO',
  'NO_ENGINE_SUBSTITUTION',
];

beforeAll(async () => {
  api = await startConformance();
  await api.execute(`CREATE TABLE t (
    id INT PRIMARY KEY, grp INT NOT NULL, name VARCHAR(3), tiny TINYINT, day DATE, moment DATETIME(3), n INT
  )`);
  await api.execute("INSERT INTO t (id, grp, name) VALUES (1, 1, 'a'), (2, 1, 'b'), (3, 2, 'c')");
});

afterAll(async () => {
  await api?.close();
});

/** The call fails as MySQL 8 would fail it: DatabaseErrorException with this error code. */
async function refused(call: Promise<unknown>, code: number): Promise<void> {
  const error = await failure(call);
  expect(error).toBeInstanceOf(DatabaseErrorException);
  expect(error.message).toMatch(new RegExp(`; Error code: ${code}; SQLState: \\w+$`));
}

const scalar = async (sql: string, transactionId?: string) => {
  const field = (await api.execute(sql, undefined, { transactionId })).records![0]![0]!;
  return field.stringValue ?? field.longValue;
};

describe('session settings', () => {
  it("runs with MySQL 8.0's default sql_mode", async () => {
    const modes = String(await scalar('SELECT @@SESSION.sql_mode')).split(',');
    // With MariaDB's rounding of excess fractional seconds, which MySQL does without a mode.
    expect(modes.sort()).toEqual([...MYSQL_80_DEFAULT_SQL_MODE, 'TIME_ROUND_FRACTIONAL'].sort());
  });

  it('runs at REPEATABLE READ, inside a transaction too', async () => {
    expect(await scalar('SELECT @@SESSION.tx_isolation')).toBe('REPEATABLE-READ');
    const transactionId = await api.begin();
    try {
      expect(await scalar('SELECT @@SESSION.tx_isolation', transactionId)).toBe('REPEATABLE-READ');
      expect(String(await scalar('SELECT @@SESSION.sql_mode', transactionId))).toContain('ONLY_FULL_GROUP_BY');
    } finally {
      await api.rollback(transactionId);
    }
  });

  it('keeps a transaction on its first snapshot while another call commits a change (REPEATABLE READ)', async () => {
    const transactionId = await api.begin();
    try {
      expect(await scalar('SELECT name FROM t WHERE id = 3', transactionId)).toBe('c');
      await api.execute("UPDATE t SET name = 'cc' WHERE id = 3");
      expect(await scalar('SELECT name FROM t WHERE id = 3', transactionId)).toBe('c');
    } finally {
      await api.rollback(transactionId);
      await api.execute("UPDATE t SET name = 'c' WHERE id = 3");
    }
  });
});

describe('ONLY_FULL_GROUP_BY', () => {
  it('refuses a selected column that is neither grouped nor aggregated (1055)', async () => {
    await refused(api.execute('SELECT grp, name FROM t GROUP BY grp'), 1055);
  });

  it('refuses a bare column beside an aggregate without GROUP BY (1140)', async () => {
    await refused(api.execute('SELECT name, COUNT(*) FROM t'), 1140);
  });

  it('accepts grouped and aggregated columns', async () => {
    const result = await api.execute('SELECT grp, COUNT(*), MIN(name) FROM t GROUP BY grp ORDER BY grp');
    expect(result.records).toEqual([
      [{ longValue: 1 }, { longValue: 2 }, { stringValue: 'a' }],
      [{ longValue: 2 }, { longValue: 1 }, { stringValue: 'c' }],
    ]);
  });

  it("also refuses a column that depends on the grouped primary key, which MySQL 8 accepts: MariaDB does not detect functional dependence, so the product's SQL aggregates or groups such columns", async () => {
    await refused(api.execute('SELECT id, name FROM t GROUP BY id'), 1055);
  });
});

describe('strict mode: an error, not a warning and a changed value', () => {
  it("refuses a number out of its column's range (1264)", async () => {
    await refused(api.execute('INSERT INTO t (id, grp, tiny) VALUES (10, 1, 300)'), 1264);
    await refused(api.execute('INSERT INTO t (id, grp, tiny) VALUES (10, 1, :tiny)', { tiny: { longValue: 300 } }), 1264);
  });

  it('refuses a string too long for its column (1406)', async () => {
    await refused(api.execute("INSERT INTO t (id, grp, name) VALUES (10, 1, 'abcd')"), 1406);
    await refused(api.execute('UPDATE t SET name = :name WHERE id = 1', { name: { stringValue: 'abcd' } }), 1406);
  });

  it('refuses a zero date and a date with a zero part (1292)', async () => {
    await refused(api.execute("INSERT INTO t (id, grp, day) VALUES (10, 1, '0000-00-00')"), 1292);
    await refused(api.execute("INSERT INTO t (id, grp, day) VALUES (10, 1, '2024-00-10')"), 1292);
    await refused(api.execute('INSERT INTO t (id, grp, moment) VALUES (10, 1, :moment)', { moment: { stringValue: '0000-00-00 00:00:00' } }), 1292);
  });

  it('refuses a division by zero in a write (1365)', async () => {
    await refused(api.execute('INSERT INTO t (id, grp, n) VALUES (10, 1, 1 / 0)'), 1365);
    await refused(api.execute('UPDATE t SET n = 1 / :zero WHERE id = 1', { zero: { longValue: 0 } }), 1365);
  });

  it('refuses an unknown storage engine instead of substituting the default (1286)', async () => {
    await refused(api.execute('CREATE TABLE elsewhere (a INT) ENGINE = NoSuchEngine'), 1286);
  });

  it('wrote none of the refused rows', async () => {
    expect((await api.execute('SELECT id, name, tiny, day, moment, n FROM t ORDER BY id')).records).toEqual([
      [{ longValue: 1 }, { stringValue: 'a' }, { isNull: true }, { isNull: true }, { isNull: true }, { isNull: true }],
      [{ longValue: 2 }, { stringValue: 'b' }, { isNull: true }, { isNull: true }, { isNull: true }, { isNull: true }],
      [{ longValue: 3 }, { stringValue: 'c' }, { isNull: true }, { isNull: true }, { isNull: true }, { isNull: true }],
    ]);
  });
});
