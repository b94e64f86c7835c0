/**
 * appUser: the application user's statements, one by one, on the real stack (test/appUser.test.ts
 * covers the literal and name checks and ensureAppUser end to end). Each user here has a unique
 * name and is dropped after the file; so is the sibling database of the wildcard test.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalDataApi } from '../../dev/data-api/server.js';
import { DatabaseError } from '../../lib/db/errors.js';
import { createDb } from '../../lib/db/index.js';
import {
  accountName,
  APP_TABLE_PRIVILEGES,
  AppUserNameError,
  createUser,
  grantOnTable,
  MIGRATIONS_TABLE,
  readTables,
  setPassword,
  setPasswordStatement,
} from '../../lib/sql/appUser.js';
import { DATABASE_URL } from '../support/database.js';
import { lostReplyDb } from '../support/lostReply.js';
import { RESOURCE_ARN, SECRET_ARN, useStack } from '../support/stack.js';

const stack = useStack();

const users: string[] = [];
const databases: string[] = [];
const userOf = (label: string) => {
  const name = `aq_su_${label}_${randomBytes(3).toString('hex')}`;
  users.push(name);
  return name;
};
const passwordOf = (label: string) => `${label}'pw"${randomBytes(6).toString('hex')}`;

afterAll(async () => {
  const admin = await mysql.createConnection(DATABASE_URL);
  try {
    for (const user of users) await admin.query(`DROP USER IF EXISTS ${accountName(user)}`);
    for (const database of databases) await admin.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await admin.end();
  }
});

/**
 * Signs in as `user`, then runs `run` in the stack's database: the error code of either, or
 * undefined when both succeeded. Without `run` no database is chosen (a user without grants may
 * sign in but not use one).
 */
async function signIn(user: string, password: string, run?: (connection: mysql.Connection) => Promise<unknown>): Promise<string | undefined> {
  const url = new URL(DATABASE_URL);
  try {
    const database = run === undefined ? undefined : stack.database;
    const connection = await mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user, password, database });
    try {
      await run?.(connection);
    } finally {
      await connection.end();
    }
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

async function accounts(user: string): Promise<string[]> {
  const [rows] = await stack.sql.query("SELECT CONCAT(User, '@', Host) AS account FROM mysql.user WHERE User = ?", [user]);
  return (rows as { account: string }[]).map((row) => row.account);
}

async function grants(user: string): Promise<string[]> {
  const [rows] = await stack.sql.query(`SHOW GRANTS FOR ${accountName(user)}`);
  return (rows as Record<string, string>[]).map((row) => Object.values(row)[0]!);
}

describe('createUser', () => {
  it("creates the user at any host ('%') with the password given", async () => {
    const user = userOf('create');
    const password = passwordOf('create');
    const db = stack.newDb();
    await createUser(db, user, password);
    expect(db.stats.calls).toBe(1);
    expect(await accounts(user)).toEqual([`${user}@%`]);
    expect(await signIn(user, password)).toBeUndefined();
  });

  it('leaves an existing user and its password as they are (setPassword changes it)', async () => {
    const user = userOf('exists');
    const first = passwordOf('first');
    await createUser(stack.db, user, first);
    await createUser(stack.db, user, passwordOf('second'));
    expect(await accounts(user)).toEqual([`${user}@%`]);
    expect(await signIn(user, first)).toBeUndefined();
  });

  it('makes one user when re-sent after a lost reply', async () => {
    const user = userOf('resent');
    const password = passwordOf('resent');
    const lost = lostReplyDb(stack, { when: (sql) => sql.startsWith('CREATE USER') });
    await createUser(lost.db, user, password);
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await accounts(user)).toEqual([`${user}@%`]);
    expect(await signIn(user, password)).toBeUndefined();
  });

  it('refuses a name it cannot write as a plain account, before any call', async () => {
    const db = stack.newDb();
    for (const name of ['', 'a'.repeat(33), "x'@'%", 'has-dash', 'é']) await expect(createUser(db, name, 'p'), name).rejects.toBeInstanceOf(AppUserNameError);
    await expect(createUser(db, 'aq_su_ok', 'back\\slash')).rejects.toThrow(/backslash/);
    expect(db.stats.calls).toBe(0);
  });
});

describe('setPassword', () => {
  it('sets the password: the old one is refused, the new one signs in', async () => {
    const user = userOf('setpw');
    const [first, second] = [passwordOf('first'), passwordOf('second')];
    await createUser(stack.db, user, first);
    await setPassword(stack.db, user, second);
    expect(await signIn(user, first)).toBe('ER_ACCESS_DENIED_ERROR');
    expect(await signIn(user, second)).toBeUndefined();
    expect(setPasswordStatement(user, "a'b")).toBe(`ALTER USER '${user}'@'%' IDENTIFIED BY 'a''b'`);
  });

  it('leaves the password of one run when re-sent after a lost reply', async () => {
    const user = userOf('setresent');
    const password = passwordOf('resent');
    await createUser(stack.db, user, passwordOf('old'));
    const lost = lostReplyDb(stack, { when: (sql) => sql.startsWith('ALTER USER') });
    await setPassword(lost.db, user, password);
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect(await signIn(user, password)).toBeUndefined();
  });

  it('fails for a user that does not exist, creating none', async () => {
    const user = userOf('missing');
    const error = await setPassword(stack.db, user, 'p').catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(DatabaseError);
    expect((error as DatabaseError).mysqlCode).toBe(1396);
    expect(await accounts(user)).toEqual([]);
  });
});

describe('readTables', () => {
  it('answers the default database and its base tables in name order, not its views', async () => {
    await stack.sql.query('CREATE OR REPLACE VIEW a_view_of_state AS SELECT queue FROM queue_state');
    try {
      const db = stack.newDb();
      expect(await readTables(db)).toEqual({
        database: stack.database,
        tables: [
          'queue_cancel_requests',
          'queue_groups',
          'queue_group_permits',
          'queue_group_slots',
          'queue_messages',
          'queue_message_outputs',
          'queue_payload_parts',
          'queue_permits',
          'queue_recurring_purges',
          'queue_state',
          MIGRATIONS_TABLE,
        ],
      });
      expect(db.stats.calls).toBe(2);
    } finally {
      await stack.sql.query('DROP VIEW a_view_of_state');
    }
  });

  it('refuses to run without a default database', async () => {
    // A server of its own: its connections have never chosen a database (the local server's
    // pooled connections keep the last one a request chose, where AWS would choose none).
    const server = await startLocalDataApi({ port: 0, databaseUrl: DATABASE_URL });
    try {
      const db = createDb({ endpoint: server.url, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: undefined });
      await expect(readTables(db)).rejects.toThrow(AppUserNameError);
      expect(db.stats.calls).toBe(1);
    } finally {
      await server.close();
    }
  });
});

describe('grantOnTable', () => {
  const grantLine = (user: string, privileges: string, table: string) => `GRANT ${privileges} ON \`${stack.database}\`.\`${table}\` TO \`${user}\`@\`%\``;

  it('grants exactly the privileges given on that one table; re-running adds nothing', async () => {
    const user = userOf('grant');
    const password = passwordOf('grant');
    await createUser(stack.db, user, password);
    const db = stack.newDb();
    await grantOnTable(db, { username: user, database: stack.database, table: 'queue_messages', privileges: APP_TABLE_PRIVILEGES });
    await grantOnTable(db, { username: user, database: stack.database, table: MIGRATIONS_TABLE, privileges: ['SELECT'] });
    expect(db.stats.calls).toBe(2);
    const granted = await grants(user);
    expect(granted.filter((line) => line.includes(' ON `')).sort()).toEqual(
      [grantLine(user, 'SELECT, INSERT, UPDATE, DELETE', 'queue_messages'), grantLine(user, 'SELECT', MIGRATIONS_TABLE)].sort(),
    );
    await grantOnTable(stack.db, { username: user, database: stack.database, table: 'queue_messages', privileges: APP_TABLE_PRIVILEGES });
    expect(await grants(user)).toEqual(granted);

    expect(
      await signIn(user, password, async (connection) => {
        await connection.query('SELECT COUNT(*) FROM queue_messages');
        await connection.query('SELECT COUNT(*) FROM schema_migrations');
      }),
    ).toBeUndefined();
    expect(await signIn(user, password, (connection) => connection.query('SELECT COUNT(*) FROM queue_state'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
    expect(await signIn(user, password, (connection) => connection.query('DELETE FROM schema_migrations'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
  });

  it('leaves the grants of one run when re-sent after a lost reply', async () => {
    const user = userOf('grantresent');
    await createUser(stack.db, user, passwordOf('g'));
    const lost = lostReplyDb(stack, { when: (sql) => sql.startsWith('GRANT') });
    await grantOnTable(lost.db, { username: user, database: stack.database, table: 'queue_state', privileges: APP_TABLE_PRIVILEGES });
    expect([lost.lost(), lost.sent()]).toEqual([1, 2]);
    expect((await grants(user)).filter((line) => line.includes(' ON `'))).toEqual([grantLine(user, 'SELECT, INSERT, UPDATE, DELETE', 'queue_state')]);
  });

  it("grants on its own database only: `_` in the name is no wildcard, so a look-alike database's table stays closed", async () => {
    const user = userOf('wild');
    const password = passwordOf('wild');
    // aq_test_… and aqXtest_…: a database-level GRANT on `aq_test_…`.* would match both.
    const lookAlike = stack.database.replace('_', 'X');
    databases.push(lookAlike);
    await stack.sql.query(`CREATE DATABASE \`${lookAlike}\``);
    await stack.sql.query(`CREATE TABLE \`${lookAlike}\`.queue_messages (id INT PRIMARY KEY)`);
    await createUser(stack.db, user, password);
    await grantOnTable(stack.db, { username: user, database: stack.database, table: 'queue_messages', privileges: APP_TABLE_PRIVILEGES });
    expect(await signIn(user, password, (connection) => connection.query('SELECT COUNT(*) FROM queue_messages'))).toBeUndefined();
    expect(await signIn(user, password, (connection) => connection.query(`SELECT COUNT(*) FROM \`${lookAlike}\`.queue_messages`))).toBe(
      'ER_TABLEACCESS_DENIED_ERROR',
    );
  });

  it('refuses a database, table or user name that is not plain, before any call', async () => {
    const db = stack.newDb();
    const good = { username: 'aq_su_ok', database: stack.database, table: 'queue_messages', privileges: ['SELECT'] };
    const bad = [
      { ...good, database: 'a`b' },
      { ...good, database: '' },
      { ...good, database: 'd'.repeat(65) },
      { ...good, table: 'queue_messages TO x; --' },
      { ...good, table: '*' },
      { ...good, table: 'mysql.user' },
      { ...good, username: "x'@'%" },
    ];
    for (const grant of bad) await expect(grantOnTable(db, grant), JSON.stringify(grant)).rejects.toBeInstanceOf(AppUserNameError);
    expect(db.stats.calls).toBe(0);
  });
});
