/**
 * Creating and dropping whole databases, which only the local stack does: on AWS the database
 * belongs to the cluster's deployment, and a typo in DB_NAME should fail rather than create an
 * empty one. Through the Data API like everything else, with no default database on the call.
 */
import type { Db } from '../db/types.js';

const PLAIN_IDENTIFIER = /^[A-Za-z0-9_]{1,64}$/;

/** `db` must have no default database (createDb with `database: undefined`). */
export async function createDatabase(db: Db, name: string): Promise<void> {
  await db.execute(`CREATE DATABASE IF NOT EXISTS \`${plainIdentifier(name)}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`, undefined, { idempotent: true });
}

export async function dropDatabase(db: Db, name: string): Promise<void> {
  await db.execute(`DROP DATABASE IF EXISTS \`${plainIdentifier(name)}\``, undefined, { idempotent: true });
}

export class InvalidDatabaseNameError extends Error {
  constructor(name: string) {
    super(`DB_NAME ${JSON.stringify(name)} is not a plain identifier (1-64 of A-Z a-z 0-9 _)`);
    this.name = 'InvalidDatabaseNameError';
  }
}

// A database name cannot be a bound parameter, so it is checked instead.
function plainIdentifier(name: string): string {
  if (!PLAIN_IDENTIFIER.test(name)) throw new InvalidDatabaseNameError(name);
  return name;
}
