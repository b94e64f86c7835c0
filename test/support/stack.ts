/**
 * The real stack for tests: the SDK client → the local Data API server (in this process, on a
 * random port) → MariaDB, in a fresh database per call, migrated. Nothing here is mocked.
 */
import mysql from 'mysql2/promise';
import { afterAll, beforeAll } from 'vitest';
import { createDb, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../../lib/db/index.js';
import type { Db } from '../../lib/db/types.js';
import { runAsMysql80 } from '../../dev/data-api/connections.js';
import { startLocalDataApi, type LocalDataApi } from '../../dev/data-api/server.js';
import { migrate } from '../../lib/migrate.js';
import { createTestDatabase, DATABASE_URL, dropTestDatabase } from './database.js';

export { LOCAL_RESOURCE_ARN as RESOURCE_ARN, LOCAL_SECRET_ARN as SECRET_ARN };

export interface Stack {
  /** The product's access layer, through the SDK and the local server. */
  db: Db;
  /** Makes another Db on the same database (its own call counter). */
  newDb(): Db;
  server: LocalDataApi;
  /** The Data API endpoint, e.g. http://127.0.0.1:43121 */
  endpoint: string;
  database: string;
  /** A direct connection for assertions on the final table; never for the code under test. */
  sql: mysql.Pool;
  close(): Promise<void>;
}

export interface StackOptions {
  /** Apply schema/migrations (default true). */
  migrate?: boolean;
  /** Latency the local server adds to every call. */
  latencyMs?: number;
  /** A MariaDB of the test's own (a chaos test that kills it); default DATABASE_URL. */
  databaseUrl?: string;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const databaseUrl = options.databaseUrl ?? DATABASE_URL;
  const database = await createTestDatabase('aq_test', databaseUrl);

  const server = await startLocalDataApi({ port: 0, databaseUrl, latencyMs: options.latencyMs ?? 0 });
  const newDb = () => createDb({ endpoint: server.url, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database });
  const db = newDb();
  if (options.migrate !== false) await migrate(newDb());

  const sql = mysql.createPool({ uri: `${databaseUrl}/${database}`, connectionLimit: 4, timezone: 'Z', dateStrings: false });
  // Fixtures written here are ones Aurora would take, as the server's own statements are.
  runAsMysql80(sql.pool);
  return {
    db,
    newDb,
    server,
    endpoint: server.url,
    database,
    sql,
    async close() {
      await sql.end();
      await server.close();
      await dropTestDatabase(database, databaseUrl);
    },
  };
}

/**
 * One stack for the calling test file: started before its tests, closed after them. The returned
 * object is filled in by the beforeAll hook, so tests read it as they would the stack itself.
 */
export function useStack(options: StackOptions = {}): Stack {
  const stack = {} as Stack;
  beforeAll(async () => {
    Object.assign(stack, await startStack(options));
  });
  afterAll(async () => {
    await stack.close?.();
  });
  return stack;
}
