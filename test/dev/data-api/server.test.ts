/**
 * Conformance of the local Data API server, driven only through @aws-sdk/client-rds-data.
 * Headings follow /work/shared/reference/rds-data-api.md.
 */
import { BadRequestException, DatabaseErrorException, ExecuteStatementCommand, RDSDataServiceException } from '@aws-sdk/client-rds-data';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, dropTestDatabase } from '../../support/database.js';
import { failure, RESOURCE_ARN, SECRET_ARN, startConformance, type Conformance } from './support.js';

let api: Conformance;

beforeAll(async () => {
  api = await startConformance();
  await api.execute(`CREATE TABLE types (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    flag TINYINT(1), bit1 BIT(1), tiny TINYINT, small SMALLINT UNSIGNED, medium MEDIUMINT, regular INT, big BIGINT,
    real_number FLOAT, double_number DOUBLE, amount DECIMAL(10,4), whole DECIMAL(12,0),
    name VARCHAR(100), code CHAR(3), body TEXT, size ENUM('s','m','l'), doc JSON,
    day DATE, clock TIME(3), moment DATETIME(3), stamp TIMESTAMP(6) NULL, seconds DATETIME, yr YEAR,
    bytes VARBINARY(16), fixed BINARY(4), data BLOB
  )`);
});

afterAll(async () => {
  await api?.close();
});

describe('wire protocol', () => {
  it('answers a SELECT with records and numberOfRecordsUpdated 0', async () => {
    const result = await api.execute("SELECT 1 AS one, 'ValueOne' AS two");
    expect(result.records).toEqual([[{ longValue: 1 }, { stringValue: 'ValueOne' }]]);
    expect(result.numberOfRecordsUpdated).toBe(0);
    expect(result.columnMetadata).toBeUndefined();
    expect(result.$metadata.httpStatusCode).toBe(200);
    expect(result.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers an empty SELECT with empty records', async () => {
    const result = await api.execute('SELECT id FROM types WHERE id < 0');
    expect(result.records).toEqual([]);
  });

  it('answers DDL with empty generatedFields and 0 records updated', async () => {
    const result = await api.execute('CREATE TABLE ddl_probe (id INT)');
    expect(result.generatedFields).toEqual([]);
    expect(result.numberOfRecordsUpdated).toBe(0);
    expect(result.records).toBeUndefined();
  });

  it("runs in the request's database and in UTC", async () => {
    const other = await createTestDatabase('aq_lda_other');
    try {
      await api.client.send(
        new ExecuteStatementCommand({ resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: other, sql: 'CREATE TABLE only_here (x INT)' }),
      );
      const here = await api.client.send(
        new ExecuteStatementCommand({
          resourceArn: RESOURCE_ARN,
          secretArn: SECRET_ARN,
          database: other,
          sql: 'SELECT DATABASE(), @@session.time_zone, COUNT(*) FROM only_here',
        }),
      );
      expect(here.records).toEqual([[{ stringValue: other }, { stringValue: '+00:00' }, { longValue: 0 }]]);
      const back = await api.execute('SELECT DATABASE()');
      expect(back.records).toEqual([[{ stringValue: api.database }]]);
    } finally {
      await dropTestDatabase(other);
    }
  });

  it('runs the same statement text in whichever database each call names', async () => {
    // One connection, so both databases' calls share it and its prepared statements.
    const single = await startConformance({ connectionLimit: 1 });
    const other = await createTestDatabase('aq_lda_other');
    const inDatabase = (database: string, sql: string) =>
      single.client.send(new ExecuteStatementCommand({ resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database, sql }));
    try {
      await inDatabase(single.database, 'CREATE TABLE here (v VARCHAR(10))');
      await inDatabase(other, 'CREATE TABLE here (v VARCHAR(10))');
      await inDatabase(single.database, "INSERT INTO here VALUES ('first')");
      await inDatabase(other, "INSERT INTO here VALUES ('other')");
      for (let round = 0; round < 2; round++) {
        expect((await inDatabase(single.database, 'SELECT v, DATABASE() FROM here')).records).toEqual([
          [{ stringValue: 'first' }, { stringValue: single.database }],
        ]);
        expect((await inDatabase(other, 'SELECT v, DATABASE() FROM here')).records).toEqual([[{ stringValue: 'other' }, { stringValue: other }]]);
      }
    } finally {
      await single.close();
      await dropTestDatabase(other);
    }
  });

  it('answers /ExecuteSql with NotFoundException', async () => {
    const response = await fetch(`${api.server.url}/ExecuteSql`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('NotFoundException');
    expect(((await response.json()) as { message: string }).message).toMatch(/not implemented/i);
  });

  it('sends errors as x-amzn-ErrorType plus {"message"} and a request id', async () => {
    const response = await fetch(`${api.server.url}/Execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sql":"SELECT 1"}' });
    expect(response.status).toBe(400);
    expect(response.headers.get('x-amzn-errortype')).toBe('BadRequestException');
    expect(response.headers.get('x-amzn-requestid')).toBeTruthy();
    expect(await response.json()).toEqual({ message: expect.stringContaining("'resourceArn'") });
  });
});

describe('MySQL types, both ways', () => {
  const values = {
    flag: { booleanValue: true },
    bit1: { booleanValue: true },
    tiny: { longValue: -128 },
    small: { longValue: 65535 },
    medium: { longValue: 8388607 },
    regular: { longValue: -2147483648 },
    big: { stringValue: '9007199254740993' }, // 2^53 + 1: only a string carries it
    real_number: { doubleValue: 1.5 },
    double_number: { doubleValue: 2.718281828459045 },
    amount: { stringValue: '123456.7890' },
    whole: { stringValue: '42' },
    name: { stringValue: "O'Brien \\ 世界 🌍" },
    code: { stringValue: 'abc' },
    body: { stringValue: 'line 1\nline 2\t"quoted"' },
    size: { stringValue: 'm' },
    doc: { stringValue: '{"a":[1,2,{"b":null}]}' },
    day: { stringValue: '2024-02-29' },
    clock: { stringValue: '13:14:15.250' },
    moment: { stringValue: '2024-01-02 03:04:05.120' },
    stamp: { stringValue: '2024-01-02 03:04:05.000001' },
    seconds: { stringValue: '2024-01-01 00:00:32.78' },
    yr: { longValue: 2024 },
    bytes: { blobValue: new Uint8Array([0, 1, 254, 255]) },
    fixed: { blobValue: new Uint8Array([1, 2, 3, 4]) },
    data: { blobValue: new Uint8Array(Buffer.from('binary \u0000 data')) },
  } as const;
  const hints: Record<string, string> = {
    amount: 'DECIMAL',
    doc: 'JSON',
    day: 'DATE',
    clock: 'TIME',
    moment: 'TIMESTAMP',
    stamp: 'TIMESTAMP',
    seconds: 'TIMESTAMP',
  };
  const columns = Object.keys(values);
  let id: number;

  beforeAll(async () => {
    const parameters = Object.entries(values).map(([name, value]) => ({ name, value, ...(hints[name] ? { typeHint: hints[name] as 'JSON' } : {}) }));
    const insert = await api.execute(`INSERT INTO types (${columns.join(', ')}) VALUES (${columns.map((c) => ':' + c).join(', ')})`, parameters);
    id = insert.generatedFields![0]!.longValue!;
  });

  it('reads every type back as the documented Field member', async () => {
    const { records } = await api.execute(`SELECT ${columns.join(', ')} FROM types WHERE id = :id`, { id: { longValue: id } });
    const row = Object.fromEntries(columns.map((column, i) => [column, records![0]![i]]));
    expect(row).toEqual({
      ...values,
      big: { longValue: 9007199254740992 }, // a JS number, rounded, exactly as the SDK does with AWS
      amount: { stringValue: '123456.7890' },
      clock: { stringValue: '13:14:15.25' }, // trailing fractional zeros trimmed
      moment: { stringValue: '2024-01-02 03:04:05.12' },
      seconds: { stringValue: '2024-01-01 00:00:33' }, // DATETIME(0) rounds as MySQL does
    });
  });

  it('returns BIGINT beyond 2^53 exactly with longReturnType STRING', async () => {
    const { records } = await api.execute(
      'SELECT big, tiny FROM types WHERE id = :id',
      { id: { longValue: id } },
      { resultSetOptions: { longReturnType: 'STRING' } },
    );
    expect(records).toEqual([[{ stringValue: '9007199254740993' }, { stringValue: '-128' }]]);
  });

  it('returns DECIMAL as long or double with DOUBLE_OR_LONG', async () => {
    const { records } = await api.execute(
      'SELECT amount, whole FROM types WHERE id = :id',
      { id: { longValue: id } },
      { resultSetOptions: { decimalReturnType: 'DOUBLE_OR_LONG' } },
    );
    expect(records).toEqual([[{ doubleValue: 123456.789 }, { longValue: 42 }]]);
  });

  it('stores and returns NULL for every type', async () => {
    const parameters = columns.map((name) => ({ name, value: { isNull: true } }));
    const insert = await api.execute(`INSERT INTO types (${columns.join(', ')}) VALUES (${columns.map((c) => ':' + c).join(', ')})`, parameters);
    const { records } = await api.execute(`SELECT ${columns.join(', ')} FROM types WHERE id = :id`, {
      id: { longValue: insert.generatedFields![0]!.longValue! },
    });
    expect(records![0]).toEqual(columns.map(() => ({ isNull: true })));
  });

  it('returns JSON documents as strings that parse', async () => {
    const { records } = await api.execute('SELECT doc FROM types WHERE id = :id', { id: { longValue: id } });
    expect(JSON.parse(records![0]![0]!.stringValue!)).toEqual({ a: [1, 2, { b: null }] });
  });

  it('treats false booleans and zero bits as false', async () => {
    const { records } = await api.execute('SELECT flag, bit1 FROM types WHERE id = :id', { id: { longValue: id } });
    expect(records).toEqual([[{ booleanValue: true }, { booleanValue: true }]]);
    await api.execute("UPDATE types SET flag = :f, bit1 = b'0' WHERE id = :id", { f: { booleanValue: false }, id: { longValue: id } });
    const after = await api.execute('SELECT flag, bit1 FROM types WHERE id = :id', { id: { longValue: id } });
    expect(after.records).toEqual([[{ booleanValue: false }, { booleanValue: false }]]);
    await api.execute("UPDATE types SET flag = TRUE, bit1 = b'1' WHERE id = :id", { id: { longValue: id } });
  });
});

describe('named parameters', () => {
  it('accepts names of digits, underscores and letters, as AWS does (:0, :1 from query builders)', async () => {
    const result = await api.execute('SELECT :0, :1, :_a, :2nd', {
      0: { longValue: 10 },
      1: { stringValue: 'one' },
      _a: { longValue: 2 },
      '2nd': { booleanValue: true },
    });
    expect(result.records![0]!.slice(0, 3)).toEqual([{ longValue: 10 }, { stringValue: 'one' }, { longValue: 2 }]);
    const batch = await api.batch('INSERT INTO types (tiny, name) VALUES (:0, :1)', [{ 0: { longValue: 1 }, 1: { stringValue: 'numbered' } }]);
    expect(batch.updateResults).toHaveLength(1);
    expect((await api.execute("SELECT tiny FROM types WHERE name = 'numbered'")).records).toEqual([[{ longValue: 1 }]]);
  });

  it('ends a name at the first other character, so :a-b needs a parameter named a', async () => {
    const error = await failure(api.execute('SELECT :a-b', [{ name: 'a-b', value: { longValue: 1 } }]));
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toBe('No value specified for parameter: a');
  });
});

describe('parameters are bound values, not SQL text', () => {
  it('takes a stringValue where MySQL wants a number: LIMIT :n', async () => {
    const rows = 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n ORDER BY i LIMIT :n';
    expect((await api.execute(rows, { n: { stringValue: '2' } })).records).toEqual([[{ longValue: 1 }], [{ longValue: 2 }]]);
    expect((await api.execute(rows, { n: { longValue: 3 } })).records).toHaveLength(3);
  });

  it('keeps each value its type: a long computes as a long, a string stays a string', async () => {
    const { records } = await api.execute('SELECT :l + 1, :s, :d * 2, :f', {
      l: { longValue: 41 },
      s: { stringValue: '5' },
      d: { doubleValue: 1.25 },
      f: { stringValue: '123.4500' },
    });
    expect(records).toEqual([[{ longValue: 42 }, { stringValue: '5' }, { doubleValue: 2.5 }, { stringValue: '123.4500' }]]);
    const decimal = await api.execute('SELECT :d * 2', [{ name: 'd', value: { stringValue: '0.1000000000000000000001' }, typeHint: 'DECIMAL' }]);
    expect(decimal.records).toEqual([[{ stringValue: '0.2000000000000000000002' }]]);
  });

  it('never lets a value change the statement', async () => {
    const text = "x' OR '1'='1' -- \\";
    const { records } = await api.execute('SELECT COUNT(*), :s FROM types WHERE name = :s', { s: { stringValue: text } });
    expect(records).toEqual([[{ longValue: 0 }, { stringValue: text }]]);
  });

  it('binds bytes as bytes', async () => {
    const bytes = new Uint8Array([0, 39, 92, 255]);
    const { records } = await api.execute('SELECT :b, LENGTH(:b)', { b: { blobValue: bytes } });
    expect(records).toEqual([[{ blobValue: bytes }, { longValue: 4 }]]);
  });

  it('binds a JSON document into JSON_TABLE', async () => {
    const doc = JSON.stringify([
      { id: 1, key: 'a' },
      { id: 2, key: "it's" },
    ]);
    const { records } = await api.execute(
      "SELECT j.id, j.k FROM JSON_TABLE(:doc, '$[*]' COLUMNS (id INT PATH '$.id', k VARCHAR(10) PATH '$.key')) AS j ORDER BY j.id",
      {
        doc: { stringValue: doc },
      },
    );
    expect(records).toEqual([
      [{ longValue: 1 }, { stringValue: 'a' }],
      [{ longValue: 2 }, { stringValue: "it's" }],
    ]);
  });

  it('reads FLOAT back as MySQL prints it', async () => {
    const insert = await api.execute('INSERT INTO types (real_number) VALUES (:f)', { f: { doubleValue: 0.1 } });
    const { records } = await api.execute('SELECT real_number FROM types WHERE id = :id', { id: { longValue: insert.generatedFields![0]!.longValue! } });
    expect(records).toEqual([[{ doubleValue: 0.1 }]]);
  });

  it('refuses a SQL ? that no name fills, as a SQL error', async () => {
    const error = await failure(api.execute('SELECT ?, :a', { a: { longValue: 1 } }));
    expect(error).toBeInstanceOf(DatabaseErrorException);
  });
});

describe('typeHint', () => {
  const hinted = (typeHint: string, stringValue: string) => api.execute('SELECT :v', [{ name: 'v', value: { stringValue }, typeHint: typeHint as 'JSON' }]);

  it.each([
    ['TIMESTAMP', '2024-02-29 23:59:59.123456', '2024-02-30 00:00:00'],
    ['TIMESTAMP', '2024-01-02 03:04:05', '2024-01-02T03:04:05Z'],
    ['DATE', '2024-02-29', '2026-13-45'],
    ['TIME', '23:59:59.5', '25:99:99'],
    ['DECIMAL', '-123.4500', '12abc'],
    ['UUID', '123e4567-e89b-12d3-a456-426614174000', 'not-a-uuid'],
    ['JSON', '{"a":[1,null,"x"]}', '{"a":[1,'],
  ])('%s: accepts %s and refuses %s with BadRequestException naming the parameter', async (typeHint, good, bad) => {
    expect((await hinted(typeHint, good)).records).toHaveLength(1);
    const error = await failure(hinted(typeHint, bad));
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toMatch(/^Parameter v: .* format must be |^Parameter v: JSON value must be/);
    expect((error as unknown as RDSDataServiceException).$metadata.httpStatusCode).toBe(400);
  });

  it('refuses a bad value in any parameter set of a batch, running none', async () => {
    const sets = [
      [{ name: 'd', value: { stringValue: '2024-01-01' }, typeHint: 'DATE' as const }],
      [{ name: 'd', value: { stringValue: '2024-02-30' }, typeHint: 'DATE' as const }],
    ];
    const error = await failure(api.batch('INSERT INTO types (day) VALUES (:d)', sets));
    expect(error).toBeInstanceOf(BadRequestException);
    expect((await api.execute("SELECT COUNT(*) FROM types WHERE day = '2024-01-01'")).records).toEqual([[{ longValue: 0 }]]);
  });
});

describe('formatRecordsAs JSON', () => {
  it('returns formattedRecords keyed by label, without records or metadata', async () => {
    const result = await api.execute(
      "SELECT 1 AS n, 'x' AS s, NULL AS z, TRUE = 1 AS t, CAST(9007199254740993 AS SIGNED) AS big, COUNT(*) FROM types WHERE id < 0",
      undefined,
      { formatRecordsAs: 'JSON', includeResultMetadata: true },
    );
    expect(result.records).toBeUndefined();
    expect(result.columnMetadata).toBeUndefined();
    expect(result.formattedRecords).toBe('[{"n":1,"s":"x","z":null,"t":1,"big":9007199254740993,"COUNT(*)":0}]');
  });

  it('renders dates, blobs and decimals as strings', async () => {
    const result = await api.execute('SELECT moment, bytes, amount, flag FROM types ORDER BY id LIMIT 1', undefined, { formatRecordsAs: 'JSON' });
    expect(JSON.parse(result.formattedRecords!)).toEqual([{ moment: '2024-01-02 03:04:05.12', bytes: 'AAH+/w==', amount: '123456.7890', flag: true }]);
  });

  it('answers [] for no rows and ignores the option for DML', async () => {
    expect((await api.execute('SELECT id FROM types WHERE id < 0', undefined, { formatRecordsAs: 'JSON' })).formattedRecords).toBe('[]');
    const update = await api.execute('UPDATE types SET tiny = tiny WHERE id < 0', undefined, { formatRecordsAs: 'JSON' });
    expect(update.formattedRecords).toBeUndefined();
    expect(update.numberOfRecordsUpdated).toBe(0);
  });

  it('refuses duplicate column labels', async () => {
    const error = await failure(api.execute('SELECT 1 AS a, 2 AS a', undefined, { formatRecordsAs: 'JSON' }));
    expect(error).toBeInstanceOf(BadRequestException);
  });
});

describe('includeResultMetadata', () => {
  it('describes each column as JDBC does', async () => {
    const { columnMetadata } = await api.execute('SELECT id, name AS label, flag, big, amount, moment, doc, data, 1 + 1 FROM types LIMIT 1', undefined, {
      includeResultMetadata: true,
    });
    const pick = (i: number) => columnMetadata![i]!;
    expect(pick(0)).toEqual({
      name: 'id',
      label: 'id',
      type: -5,
      typeName: 'BIGINT',
      schemaName: '',
      tableName: 'types',
      isAutoIncrement: true,
      isSigned: true,
      isCurrency: false,
      isCaseSensitive: false,
      nullable: 0,
      precision: 20,
      scale: 0,
      arrayBaseColumnType: 0,
    });
    expect(pick(1)).toMatchObject({ name: 'name', label: 'label', type: 12, typeName: 'VARCHAR', precision: 100, nullable: 1, isSigned: false });
    expect(pick(2)).toMatchObject({ typeName: 'BIT', type: -7 });
    expect(pick(3)).toMatchObject({ typeName: 'BIGINT', isAutoIncrement: false, nullable: 1 });
    expect(pick(4)).toMatchObject({ typeName: 'DECIMAL', type: 3, precision: 10, scale: 4 });
    expect(pick(5)).toMatchObject({ typeName: 'DATETIME', type: 93 });
    expect(pick(6)).toMatchObject({ typeName: 'JSON', type: -1 });
    expect(pick(7)).toMatchObject({ typeName: 'BLOB', type: -4 });
    expect(pick(8)).toMatchObject({ name: '1 + 1', label: '1 + 1', tableName: '' });
  });
});

describe('generated ids and update counts', () => {
  it('returns the auto-increment id of an INSERT, and none otherwise', async () => {
    await api.execute('CREATE TABLE counters (id INT AUTO_INCREMENT PRIMARY KEY, n INT NOT NULL)');
    await api.execute('CREATE TABLE plain (k VARCHAR(10) PRIMARY KEY)');
    const first = await api.execute('INSERT INTO counters (n) VALUES (:n)', { n: { longValue: 1 } });
    const second = await api.execute('INSERT INTO counters (n) VALUES (:n)', { n: { longValue: 1 } });
    expect(first.generatedFields).toEqual([{ longValue: 1 }]);
    expect(second.generatedFields).toEqual([{ longValue: 2 }]);
    expect(first.numberOfRecordsUpdated).toBe(1);
    const plain = await api.execute("INSERT INTO plain VALUES ('a')");
    expect(plain.generatedFields).toEqual([]);
  });

  it('counts matched rows for UPDATE, as JDBC drivers do', async () => {
    const result = await api.execute('UPDATE counters SET n = 1');
    expect(result.numberOfRecordsUpdated).toBe(2);
  });
});

describe('BatchExecuteStatement', () => {
  it('returns one updateResult per parameter set', async () => {
    await api.execute('CREATE TABLE batch (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(10) NOT NULL UNIQUE)');
    const result = await api.batch('INSERT INTO batch (name) VALUES (:name)', [
      { name: { stringValue: 'a' } },
      { name: { stringValue: 'b' } },
      { name: { stringValue: 'c' } },
    ]);
    expect(result.updateResults).toEqual([
      { generatedFields: [{ longValue: 1 }] },
      { generatedFields: [{ longValue: 2 }] },
      { generatedFields: [{ longValue: 3 }] },
    ]);
    const update = await api.batch('UPDATE batch SET name = :to WHERE name = :from', [{ from: { stringValue: 'a' }, to: { stringValue: 'z' } }]);
    expect(update.updateResults).toEqual([{ generatedFields: [] }]);
  });

  it('runs once per empty parameter set and not at all without sets', async () => {
    expect((await api.batch("INSERT INTO batch (name) VALUES (LEFT(CONCAT('e', RAND()), 10))", [[]])).updateResults).toHaveLength(1);
    expect((await api.batch('DELETE FROM batch', [])).updateResults).toEqual([]);
    expect((await api.execute("SELECT COUNT(*) FROM batch WHERE name LIKE 'e%'")).records).toEqual([[{ longValue: 1 }]]);
  });

  it('applies all sets or none when a set fails outside a transaction', async () => {
    const error = await failure(api.batch('INSERT INTO batch (name) VALUES (:name)', [{ name: { stringValue: 'new1' } }, { name: { stringValue: 'b' } }]));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/Duplicate entry 'b'.*; Error code: 1062; SQLState: 23000$/);
    expect((await api.execute("SELECT COUNT(*) FROM batch WHERE name = 'new1'")).records).toEqual([[{ longValue: 0 }]]);
  });
});

describe('errors', () => {
  it('reports SQL errors as DatabaseErrorException with MySQL code and SQLState', async () => {
    const error = await failure(api.execute('SELECT nope FROM types'));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toMatch(/^Unknown column 'nope'.*; Error code: 1054; SQLState: 42S22$/);
    expect((error as unknown as RDSDataServiceException).$metadata.httpStatusCode).toBe(400);
  });

  it('names a missing parameter', async () => {
    const error = await failure(api.execute('SELECT :a, :b', { a: { longValue: 1 } }));
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toContain('b');
  });

  it('refuses array parameters', async () => {
    const error = await failure(api.execute('SELECT :a', { a: { arrayValue: { longValues: [1, 2] } } }));
    expect(error).toBeInstanceOf(BadRequestException);
  });

  it('refuses a malformed TIMESTAMP', async () => {
    const error = await failure(api.execute('SELECT :t', [{ name: 't', value: { stringValue: '2024-01-02T03:04:05Z' }, typeHint: 'TIMESTAMP' }]));
    expect(error).toBeInstanceOf(BadRequestException);
  });

  it('refuses multi-statement SQL with a syntax error', async () => {
    const error = await failure(api.execute('SELECT 1; SELECT 2'));
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toContain('Error code: 1064');
  });

  it('accepts a trailing semicolon, as MariaDB and MySQL do for a single statement', async () => {
    expect((await api.execute('SELECT 1;')).records).toEqual([[{ longValue: 1 }]]);
  });

  it('refuses an unknown database as a SQL error', async () => {
    const error = await failure(
      api.client.send(new ExecuteStatementCommand({ resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: 'no_such_db_here', sql: 'SELECT 1' })),
    );
    expect(error).toBeInstanceOf(DatabaseErrorException);
    expect(error.message).toContain('Error code: 1049');
  });
});

describe('limits', () => {
  const send = (input: Partial<ConstructorParameters<typeof ExecuteStatementCommand>[0]>) =>
    api.client.send(new ExecuteStatementCommand({ resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: api.database, sql: 'SELECT 1', ...input }));

  it.each([
    ['resourceArn', { resourceArn: 'arn:short' }],
    ['resourceArn', { resourceArn: 'a'.repeat(101) }],
    ['secretArn', { secretArn: 'x' }],
    ['database', { database: 'd'.repeat(65) }],
    ['transactionId', { transactionId: 't'.repeat(193) }],
    ['sql', { sql: 'SELECT 1' + ' '.repeat(65_536) }],
  ])('refuses %s out of bounds, naming it', async (member, input) => {
    const error = await failure(send(input));
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toContain(`'${member}'`);
  });

  it('accepts SQL of exactly 65,536 characters', async () => {
    const sql = 'SELECT 1';
    expect((await send({ sql: sql + ' '.repeat(65_536 - sql.length) })).records).toEqual([[{ longValue: 1 }]]);
  });

  it('refuses a request body over 4 MiB', async () => {
    const error = await failure(api.execute('SELECT LENGTH(:s)', { s: { stringValue: 'x'.repeat(4 * 1024 * 1024) } }));
    expect(error).toBeInstanceOf(BadRequestException);
  });

  it('refuses a row over 64 KB and allows one just under', async () => {
    expect((await api.execute("SELECT LENGTH(REPEAT('x', 65000))")).records).toEqual([[{ longValue: 65000 }]]);
    const ok = await api.execute("SELECT REPEAT('x', 65000)");
    expect(ok.records![0]![0]!.stringValue).toHaveLength(65000);
    const error = await failure(api.execute("SELECT REPEAT('x', 40000), REPEAT('y', 40000)"));
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toMatch(/too large/);
  });

  it('refuses a response over 1 MiB', async () => {
    const rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows) SELECT i, REPEAT('x', 60000) FROM n";
    expect((await api.execute(rows, { rows: { longValue: 16 } })).records).toHaveLength(16);
    const error = await failure(api.execute(rows, { rows: { longValue: 20 } }));
    expect(error).toBeInstanceOf(BadRequestException);
    expect(error.message).toBe('Database response exceeded size limit');
  });

  it('allows formattedRecords up to 10 MB', async () => {
    const rows = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows) SELECT REPEAT('x', 60000) AS x FROM n";
    const big = await api.execute(rows, { rows: { longValue: 100 } }, { formatRecordsAs: 'JSON' });
    expect(big.formattedRecords!.length).toBeGreaterThan(6_000_000);
    const error = await failure(api.execute(rows, { rows: { longValue: 170 } }, { formatRecordsAs: 'JSON' }));
    expect(error).toBeInstanceOf(BadRequestException);
  });
});

describe('unknown paths', () => {
  it('answers an unknown operation with a 404', async () => {
    const response = await fetch(`${api.server.url}/Nope`, { method: 'POST', body: '{}' });
    expect(response.status).toBe(404);
    expect(response.headers.get('x-amzn-errortype')).toBe('UnknownOperationException');
  });
});
