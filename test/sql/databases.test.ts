/**
 * databases: creating and dropping a whole database (the local stack's own setup), through the Data
 * API on a Db without a default database. Each test names its databases uniquely and drops them.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { createDatabase, dropDatabase, InvalidDatabaseNameError } from '../../lib/sql/databases.js';
import { DATABASE_URL } from '../support/database.js';
import { lostReplyDb } from '../support/lostReply.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from '../support/stack.js';

const stack = useStack({ migrate: false });

/** A Db with no default database, as scripts/start.ts makes one for createDatabase. */
const adminDb = (): Db => createDb({ endpoint: stack.endpoint, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: undefined });

const made: string[] = [];
const nameOf = (label: string) => {
  const name = `aq_dbs_${label}_${randomBytes(4).toString('hex')}`;
  made.push(name);
  return name;
};

afterAll(async () => {
  const admin = await mysql.createConnection(DATABASE_URL);
  try {
    for (const name of made) await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
  } finally {
    await admin.end();
  }
});

async function schema(name: string): Promise<{ charset: string; collation: string } | undefined> {
  const [rows] = await stack.sql.query(
    'SELECT DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?',
    [name],
  );
  return (rows as { charset: string; collation: string }[])[0];
}

describe('createDatabase', () => {
  it('creates the database in utf8mb4 with binary collation, in one call', async () => {
    const name = nameOf('create');
    const db = adminDb();
    await createDatabase(db, name);
    expect(db.stats.calls).toBe(1);
    expect(await schema(name)).toEqual({ charset: 'utf8mb4', collation: 'utf8mb4_bin' });
  });

  it('leaves an existing database and its tables as they are when run again', async () => {
    const name = nameOf('again');
    await createDatabase(adminDb(), name);
    await stack.sql.query(`CREATE TABLE \`${name}\`.kept (id INT PRIMARY KEY)`);
    await stack.sql.query(`INSERT INTO \`${name}\`.kept VALUES (1)`);
    await createDatabase(adminDb(), name);
    const [rows] = await stack.sql.query(`SELECT id FROM \`${name}\`.kept`);
    expect(rows).toEqual([{ id: 1 }]);
  });

  it('creates it once when re-sent after a lost reply', async () => {
    const name = nameOf('resent');
    // An empty database name: createDb reads it as none.
    const lost = lostReplyDb({ endpoint: stack.endpoint, database: '' }, { when: (sql) => sql.startsWith('CREATE DATABASE') });
    await createDatabase(lost.db, name);
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await schema(name)).toEqual({ charset: 'utf8mb4', collation: 'utf8mb4_bin' });
  });
});

describe('dropDatabase', () => {
  it('drops the database and everything in it; a missing one is no error', async () => {
    const name = nameOf('drop');
    await createDatabase(adminDb(), name);
    await stack.sql.query(`CREATE TABLE \`${name}\`.gone (id INT PRIMARY KEY)`);
    await dropDatabase(adminDb(), name);
    expect(await schema(name)).toBeUndefined();
    await dropDatabase(adminDb(), name);
    expect(await schema(name)).toBeUndefined();
  });

  it('drops it once when re-sent after a lost reply', async () => {
    const name = nameOf('dropresent');
    await createDatabase(adminDb(), name);
    const lost = lostReplyDb({ endpoint: stack.endpoint, database: '' }, { when: (sql) => sql.startsWith('DROP DATABASE') });
    await dropDatabase(lost.db, name);
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await schema(name)).toBeUndefined();
  });
});

describe('the name guard', () => {
  it('refuses a name that is not 1-64 of A-Z a-z 0-9 _, before any call', async () => {
    const db = adminDb();
    const bad = ['', 'a'.repeat(65), 'has-dash', 'has.dot', 'has space', 'x`; DROP DATABASE mysql; --', 'é', 'a%', `${stack.database}\``];
    for (const name of bad) {
      await expect(createDatabase(db, name), name).rejects.toBeInstanceOf(InvalidDatabaseNameError);
      await expect(dropDatabase(db, name), name).rejects.toThrow(/is not a plain identifier \(1-64 of A-Z a-z 0-9 _\)/);
    }
    expect(db.stats.calls).toBe(0);
    // The stack's own database is untouched by the refused drop.
    expect(await schema(stack.database)).toBeDefined();
  });

  it('takes a name of exactly 64 characters', async () => {
    const name = nameOf('x').padEnd(64, '0');
    made.push(name);
    await createDatabase(adminDb(), name);
    expect(await schema(name)).toBeDefined();
    await dropDatabase(adminDb(), name);
    expect(await schema(name)).toBeUndefined();
  });
});
