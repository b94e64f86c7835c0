/**
 * The application database user (lib/appUser.ts), made through the local Data API as the master
 * user would make it, then used over a direct connection as that user: it reads and writes the
 * queue's rows and nothing more.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { createMigrateHandler } from '../handlers/migrate.js';
import * as z from 'zod';
import { startLocalDataApi } from '../dev/data-api/server.js';
import { createApp } from '../lib/app.js';
import { defineConfig } from '../lib/config.js';
import { createDb } from '../lib/db/index.js';
import { drain } from '../lib/drain/drain.js';
import { enqueue } from '../lib/enqueue.js';
import { PermanentError } from '../lib/errors.js';
import { defineJobType } from '../lib/jobs/types.js';
import { getMessageStatus } from '../lib/messages.js';
import { getQueueStats, listDeadLetters, pauseQueue, redrive, resumeQueue } from '../lib/operations.js';
import { appUserFromEnv, AppUserError, ensureAppUser, parseAppSecret, type ReadSecretString } from '../lib/appUser.js';
import type { Db } from '../lib/db/types.js';
import { accountName, createUserStatement, mysqlStringLiteral } from '../lib/sql/appUser.js';
import { testConfig } from './support/config.js';
import { DATABASE_URL } from './support/database.js';
import { RESOURCE_ARN, useStack } from './support/stack.js';

const stack = useStack();
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:aurora-queue-test-app-AbCdEf';
const QUEUE_TABLES = [
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
];

/** A user of this file's own, dropped after it: tests run in parallel on one server. */
const username = `aq_app_${randomBytes(4).toString('hex')}`;
// A quote, a double quote, a semicolon and a comment opener: all must stay inside the literal.
const firstPassword = `pa'ss"w;rd -- ${randomBytes(6).toString('hex')}`;
const secondPassword = `second'${randomBytes(6).toString('hex')}`;

const secretOf =
  (password: string, name = username): ReadSecretString =>
  async (arn) => {
    expect(arn).toBe(SECRET_ARN);
    return JSON.stringify({ username: name, password, engine: 'mysql', host: 'cluster.example' });
  };

function connectAs(password: string): Promise<mysql.Connection> {
  const url = new URL(DATABASE_URL);
  return mysql.createConnection({ host: url.hostname, port: Number(url.port || 3306), user: username, password, database: stack.database });
}

async function refused(run: () => Promise<unknown>): Promise<string | undefined> {
  return run().then(
    () => undefined,
    (error: { code?: string }) => error.code ?? 'error',
  );
}

afterAll(async () => {
  const admin = await mysql.createConnection(DATABASE_URL);
  try {
    await admin.query(`DROP USER IF EXISTS ${accountName(username)}`);
  } finally {
    await admin.end();
  }
});

describe('mysqlStringLiteral', () => {
  it('doubles quotes and refuses what no one spelling means under every sql_mode', () => {
    expect(mysqlStringLiteral("it's")).toBe("'it''s'");
    expect(() => mysqlStringLiteral('back\\slash')).toThrow(/backslash/);
    expect(() => mysqlStringLiteral('new\nline')).toThrow(/control/);
  });

  it('reads back as the same text with and without NO_BACKSLASH_ESCAPES', async () => {
    const text = `'; DROP TABLE x; -- "quoted" ''twice'' ${firstPassword}`;
    const admin = await mysql.createConnection(DATABASE_URL);
    try {
      for (const mode of ['STRICT_TRANS_TABLES', 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES,ANSI_QUOTES']) {
        await admin.query(`SET SESSION sql_mode = '${mode}'`);
        const [rows] = (await admin.query(`SELECT ${mysqlStringLiteral(text)} AS text`)) as any[];
        expect(rows[0].text, mode).toBe(text);
      }
    } finally {
      await admin.end();
    }
  });

  it('accepts only plain user names MySQL can hold', () => {
    expect(accountName('aurora_queue_app')).toBe("'aurora_queue_app'@'%'");
    expect(() => accountName('a'.repeat(33))).toThrow(/1-32/);
    expect(() => accountName("x'@'%' IDENTIFIED BY 'y")).toThrow(/A-Z a-z 0-9 _/);
  });
});

describe('parseAppSecret and appUserFromEnv', () => {
  it('takes username and password from the secret JSON', () => {
    expect(parseAppSecret('{"username":"u","password":"p","host":"h"}')).toEqual({ username: 'u', password: 'p' });
    expect(() => parseAppSecret('not json')).toThrow(AppUserError);
    expect(() => parseAppSecret('{"username":"u"}')).toThrow(/username and password/);
  });

  it('is configured by DB_APP_SECRET_ARN; empty or unset means none', () => {
    expect(appUserFromEnv({ DB_APP_SECRET_ARN: SECRET_ARN })).toEqual({ secretArn: SECRET_ARN });
    expect(appUserFromEnv({ DB_APP_SECRET_ARN: '' })).toEqual({ secretArn: undefined });
    expect(appUserFromEnv({})).toEqual({ secretArn: undefined });
  });
});

describe('ensureAppUser', () => {
  it('does nothing without an app secret (the local stack runs as root)', async () => {
    const calls = stack.db.stats.calls;
    const readSecret = async () => {
      throw new Error('must not be read');
    };
    expect(await ensureAppUser(stack.db, { secretArn: undefined, readSecret })).toBeUndefined();
    expect(stack.db.stats.calls).toBe(calls);
  });

  it('creates the user from its secret with DML on the queue tables and SELECT on the migrations table', async () => {
    const lines: string[] = [];
    const result = await ensureAppUser(stack.db, { secretArn: SECRET_ARN, readSecret: secretOf(firstPassword) }, (line) => lines.push(line));
    expect(result).toEqual({ username, tables: QUEUE_TABLES, readOnlyTables: ['schema_migrations'] });
    expect(lines.join('\n')).not.toContain(firstPassword);

    const app = await connectAs(firstPassword);
    try {
      expect(await refused(() => app.query('SELECT MAX(version) FROM schema_migrations'))).toBeUndefined();
      expect(await refused(() => app.query('DELETE FROM schema_migrations'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
      expect(await refused(() => app.query('CREATE TABLE app_user_probe (id INT)'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
      expect(await refused(() => app.query('DROP TABLE queue_permits'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
      expect(await refused(() => app.query('ALTER TABLE queue_state ADD COLUMN probe INT'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
      expect(await refused(() => app.query('TRUNCATE TABLE queue_messages'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
      expect(await refused(() => app.query("CREATE USER 'aq_app_probe'@'%'"))).toBe('ER_SPECIFIC_ACCESS_DENIED_ERROR');
      expect(await refused(() => app.query('SELECT COUNT(*) FROM mysql.user'))).toBe('ER_TABLEACCESS_DENIED_ERROR');
    } finally {
      await app.end();
    }
  });

  it('is all the product needs: enqueue, drain (FIFO, queue-wide limits, recurring, dead letters, retention), stats, redrive, pause', async () => {
    // The local Data API signed in as the application user, as the deployed functions are.
    const url = new URL(DATABASE_URL);
    url.username = username;
    url.password = encodeURIComponent(firstPassword);
    const server = await startLocalDataApi({ port: 0, databaseUrl: url.toString() });
    try {
      const db = createDb({ endpoint: server.url, resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database: stack.database });
      const config = defineConfig({
        queues: [
          { name: 'plain', concurrency: 2, ratePerSecond: 100 },
          { name: 'ordered', fifo: true },
        ],
        jobTypes: [
          defineJobType({ type: 'ok', payload: z.unknown(), handle: async () => {} }),
          defineJobType({ type: 'fails', payload: z.unknown(), handle: async () => Promise.reject(new PermanentError('no')) }),
        ],
        recurring: [{ name: 'tick', schedule: 'rate(1 minute)', queue: 'plain', type: 'ok', payload: {} }],
      });
      const app = createApp({ db, env: {}, config });

      const [ok] = await enqueue(app, 'plain', [{ type: 'ok', payload: {}, dedupKey: 'once' }]);
      expect((await enqueue(app, 'plain', [{ type: 'ok', payload: {}, dedupKey: 'once' }]))[0]!.duplicate).toBe(true);
      await enqueue(app, 'ordered', [
        { type: 'ok', payload: {}, groupKey: 'g' },
        { type: 'ok', payload: {}, groupKey: 'g' },
      ]);
      const [dead] = await enqueue(app, 'plain', [{ type: 'fails', payload: { big: 'x'.repeat(300_000) } }]);

      const summary = await drain(app, { remainingTimeMs: () => 30_000 });
      expect(summary.errors).toEqual([]);
      expect(summary.dead).toBe(1);
      expect(summary.done).toBeGreaterThanOrEqual(3);
      expect((await getMessageStatus(app, dead!.id)).status).toBe('dead');
      expect(await getQueueStats(app, 'ordered')).toMatchObject({ queue: 'ordered' });
      expect((await listDeadLetters(app, 'plain')).messages).toHaveLength(1);
      expect((await redrive(app, 'plain')).count).toBe(1);
      await pauseQueue(app, 'plain');
      await resumeQueue(app, 'plain');
      await expect(getMessageStatus(app, ok!.id)).resolves.toBeDefined();
    } finally {
      await server.close();
    }
  });

  it('is idempotent and sets the password to the secret’s on every run', async () => {
    await ensureAppUser(stack.db, { secretArn: SECRET_ARN, readSecret: secretOf(firstPassword) });
    const result = await ensureAppUser(stack.db, { secretArn: SECRET_ARN, readSecret: secretOf(secondPassword) });
    expect(result?.tables).toEqual(QUEUE_TABLES);

    expect(await refused(() => connectAs(firstPassword).then((c) => c.end()))).toBe('ER_ACCESS_DENIED_ERROR');
    const app = await connectAs(secondPassword);
    try {
      await app.query('SELECT COUNT(*) FROM queue_messages');
    } finally {
      await app.end();
    }
  });

  it('never shows the password in an error, and refuses one it cannot write as a literal', async () => {
    const password = `leak'${randomBytes(6).toString('hex')}`;
    const failing = {
      stats: { calls: 0 },
      execute: async (sql: string) => {
        throw new Error(`Access denied (${password}); You have an error in your SQL syntax; check the manual near '${sql.slice(-20)}' at line 1`);
      },
    } as unknown as Db;
    const error = await ensureAppUser(failing, { secretArn: SECRET_ARN, readSecret: secretOf(password) }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(AppUserError);
    expect((error as Error).message).toBe(
      'could not create or update the application user: Access denied (<password>); You have an error in your SQL syntax; check the manual',
    );
    // A message quoting part of it is withheld whole.
    const partial = { ...failing, execute: async () => Promise.reject(new Error(`bad value ${password.slice(2, 12)}`)) } as unknown as Db;
    const withheld = await ensureAppUser(partial, { secretArn: SECRET_ARN, readSecret: secretOf(password) }).catch((thrown: unknown) => thrown);
    expect((withheld as Error).message).toBe('could not create or update the application user: (the database message is withheld: it quoted the password)');
    expect((error as Error).cause).toBeUndefined();

    const backslash = await ensureAppUser(stack.db, { secretArn: SECRET_ARN, readSecret: secretOf('back\\slash') }).catch((thrown: unknown) => thrown);
    expect((backslash as Error).message).toMatch(/backslash/);
    expect(createUserStatement('u', "a'b")).toBe("CREATE USER IF NOT EXISTS 'u'@'%' IDENTIFIED BY 'a''b'");
  });
});

describe('the migrate handler', () => {
  it('creates the application user after the migrations when an app secret is configured', async () => {
    const app = () => createApp({ db: stack.db, env: {}, config: testConfig });
    const handler = createMigrateHandler(app, { log: { info: () => {} }, appUser: { secretArn: SECRET_ARN, readSecret: secretOf(firstPassword) } });
    const result = await handler();
    expect(result.appUser).toEqual({ username, tables: QUEUE_TABLES, readOnlyTables: ['schema_migrations'] });
    expect(result.applied).toEqual([]);
    const connection = await connectAs(firstPassword);
    await connection.end();
  });
});
