/**
 * The application database user's statements, run by migrations as the master user (lib/appUser.ts).
 *
 * MySQL takes no bound parameter where these need values: an account name, a password after
 * IDENTIFIED BY and the table of a GRANT are literals or identifiers in its grammar (a `?` there is
 * a syntax error in a prepared statement, on MySQL 8 and MariaDB alike), so the Data API's
 * parameters cannot carry them. They are checked and written into the text here, and only here.
 */
import type { Db } from '../db/types.js';

/** What the application may do on a queue table: read and write rows, no DDL. */
export const APP_TABLE_PRIVILEGES = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const;

/**
 * The migrations' own bookkeeping: the application reads the schema version (doctor) and never
 * writes it, so a stray statement cannot mark a migration applied.
 */
export const MIGRATIONS_TABLE = 'schema_migrations';

/** MySQL's limit on a user name's length (8.0 and later). */
const MAX_USERNAME_LENGTH = 32;
const PLAIN_NAME = /^[A-Za-z0-9_]+$/;

export class AppUserNameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppUserNameError';
  }
}

/**
 * A MySQL string literal for `value` that means the same under every sql_mode. A quote is doubled
 * (`''` is a quote in both modes). A backslash is refused rather than escaped: it escapes the next
 * character by default but is a plain character under NO_BACKSLASH_ESCAPES, so no one spelling is
 * right in both; control characters are refused too. The generated password has neither.
 */
export function mysqlStringLiteral(value: string): string {
  if (value.includes('\\')) throw new RangeError('a backslash cannot be written as a MySQL string literal independently of sql_mode');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what it looks for
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new RangeError('control characters are not allowed in a MySQL string literal here');
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * `'name'@'%'`: any host, since Data API connections come from AWS's side, not from a known
 * address. The name is plain (letters, digits, underscore) and at most 32 characters.
 */
export function accountName(username: string): string {
  if (!PLAIN_NAME.test(username) || username.length > MAX_USERNAME_LENGTH) {
    throw new AppUserNameError(`the application user's name ${JSON.stringify(username)} must be 1-${MAX_USERNAME_LENGTH} of A-Z a-z 0-9 _`);
  }
  return `${mysqlStringLiteral(username)}@'%'`;
}

/** A database or table name as a quoted identifier; only plain names occur in this schema. */
function identifier(name: string): string {
  if (!PLAIN_NAME.test(name) || name.length > 64) throw new AppUserNameError(`${JSON.stringify(name)} is not a plain identifier`);
  return `\`${name}\``;
}

/** The statement text for the password (exported for tests, which check it never leaves this module unredacted). */
export function createUserStatement(username: string, password: string): string {
  // No plugin named: the user gets the server's default, as the master user the Data API already signs in as.
  return `CREATE USER IF NOT EXISTS ${accountName(username)} IDENTIFIED BY ${mysqlStringLiteral(password)}`;
}

export function setPasswordStatement(username: string, password: string): string {
  return `ALTER USER ${accountName(username)} IDENTIFIED BY ${mysqlStringLiteral(password)}`;
}

/** Creates the user when missing; an existing one keeps its password (setPassword sets it). */
export async function createUser(db: Db, username: string, password: string): Promise<void> {
  await db.execute(createUserStatement(username, password), undefined, { idempotent: true });
}

/** Sets the password to the secret's, so a changed or regenerated secret takes effect. */
export async function setPassword(db: Db, username: string, password: string): Promise<void> {
  await db.execute(setPasswordStatement(username, password), undefined, { idempotent: true });
}

export interface SchemaTables {
  database: string;
  tables: string[];
}

const READ_TABLES = `SELECT TABLE_NAME AS table_name
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = :database AND TABLE_TYPE = 'BASE TABLE'
ORDER BY TABLE_NAME`;

/** The default database's tables: what the migrations made, the queue's tables and theirs. */
export async function readTables(db: Db): Promise<SchemaTables> {
  const [current] = await db.query<{ database_name: string | null }>('SELECT DATABASE() AS database_name', {}, { idempotent: true });
  const database = current?.database_name;
  if (!database) throw new AppUserNameError('no default database: the migrate function runs with DB_NAME');
  const rows = await db.query<{ table_name: string }>(READ_TABLES, { database }, { idempotent: true });
  return { database, tables: rows.map((row) => row.table_name) };
}

/**
 * Table by table rather than `database`.*: a database-level GRANT reads `_` in the name as a
 * wildcard (aurora_queue would match auroraXqueue), and each table gets only what it needs.
 */
export async function grantOnTable(db: Db, grant: { username: string; database: string; table: string; privileges: readonly string[] }): Promise<void> {
  const privileges = grant.privileges.join(', ');
  await db.execute(`GRANT ${privileges} ON ${identifier(grant.database)}.${identifier(grant.table)} TO ${accountName(grant.username)}`, undefined, {
    idempotent: true,
  });
}
