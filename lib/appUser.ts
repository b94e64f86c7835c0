/**
 * The application database user: every function but migrate signs in to MySQL as this user, not
 * as the cluster's master user, and may only read and write the queue's rows (no DDL, no other
 * database, no users). Its credentials are a Secrets Manager secret (serverless.yml: DbAppSecret,
 * or one given as dbAppSecretArn); the migrate function, signed in as the master user, makes the
 * account match it after the migrations ran: created when missing, its password set to the
 * secret's, and its grants given on every table there is. Each step is idempotent, so every migrate
 * run repeats them (a regenerated secret or a new table takes effect the same way).
 */
import type { Db } from './db/types.js';
import { APP_TABLE_PRIVILEGES, createUser, grantOnTable, MIGRATIONS_TABLE, readTables, setPassword } from './sql/appUser.js';

/** Reads a secret's SecretString by ARN. */
export type ReadSecretString = (secretArn: string) => Promise<string>;

export interface AppUserOptions {
  /** DB_APP_SECRET_ARN. Unset or empty (the local stack, which runs as root): no application user. */
  secretArn: string | undefined;
  /** Default: Secrets Manager, as the migrate function's role allows for exactly this secret. */
  readSecret?: ReadSecretString;
}

export interface AppUserResult {
  username: string;
  /** Tables granted SELECT, INSERT, UPDATE, DELETE. */
  tables: string[];
  /** Tables granted SELECT only. */
  readOnlyTables: string[];
}

export class AppUserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppUserError';
  }
}

export function appUserFromEnv(env: NodeJS.ProcessEnv = process.env): AppUserOptions {
  return { secretArn: env.DB_APP_SECRET_ARN?.trim() || undefined };
}

/** The username and password of a database-credentials secret (`{"username", "password", ...}`). */
export function parseAppSecret(secretString: string): { username: string; password: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new AppUserError('the application user secret is not JSON with username and password');
  }
  const { username, password } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof username !== 'string' || username === '' || typeof password !== 'string' || password === '') {
    throw new AppUserError('the application user secret needs a non-empty username and password');
  }
  return { username, password };
}

/**
 * Creates or updates the application user from its secret; undefined when none is configured.
 * `db` signs in as a user that may CREATE USER and GRANT (the master user) in the queue's database.
 */
export async function ensureAppUser(db: Db, options: AppUserOptions, log?: (line: string) => void): Promise<AppUserResult | undefined> {
  if (options.secretArn === undefined) return undefined;
  const readSecret = options.readSecret ?? secretsManagerReader();
  const { username, password } = parseAppSecret(await readSecret(options.secretArn));

  await withPasswordRedacted(password, async () => {
    await createUser(db, username, password);
    await setPassword(db, username, password);
  });

  const { database, tables } = await readTables(db);
  const readWrite = tables.filter((table) => table !== MIGRATIONS_TABLE);
  const readOnly = tables.filter((table) => table === MIGRATIONS_TABLE);
  for (const table of readWrite) await grantOnTable(db, { username, database, table, privileges: APP_TABLE_PRIVILEGES });
  for (const table of readOnly) await grantOnTable(db, { username, database, table, privileges: ['SELECT'] });
  log?.(`application user ${username}: ${APP_TABLE_PRIVILEGES.join(', ')} on ${readWrite.length} tables, SELECT on ${readOnly.join(', ') || 'none'}`);
  return { username, tables: readWrite, readOnlyTables: readOnly };
}

/**
 * The statements that carry the password in their text: a database error may quote the statement
 * ("near '...'"), so the message loses that quote and every copy of the password, is withheld
 * whole if any part of the password is still in it, and keeps no cause: the migrate function's log
 * and its invoke response must not show the password.
 */
async function withPasswordRedacted(password: string, run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new AppUserError(`could not create or update the application user: ${redactPassword(message, password)}`);
  }
}

function redactPassword(message: string, password: string): string {
  const forms = [password.replace(/'/g, "''"), password];
  let text = message.split(" near '")[0]!;
  for (const form of forms) text = text.split(form).join('<password>');
  const window = Math.min(6, password.length);
  for (let start = 0; start + window <= password.length; start++) {
    if (text.includes(password.slice(start, start + window))) return '(the database message is withheld: it quoted the password)';
  }
  return text.trimEnd();
}

/**
 * The secret's string through Powertools' SecretsProvider (as lib/secrets.ts reads SSM through its
 * SSMProvider), in the secret's own region, never cached: a changed password takes effect on the
 * next migrate. The SDK is loaded only when a secret is configured.
 */
export function secretsManagerReader(): ReadSecretString {
  return async (secretArn) => {
    const { SecretsProvider } = await import('@aws-lambda-powertools/parameters/secrets');
    const region = secretArn.split(':')[3] || undefined;
    const provider = new SecretsProvider(region ? { clientConfig: { region } } : {});
    const value = await provider.get(secretArn, { maxAge: 0 });
    if (typeof value !== 'string') throw new AppUserError(`secret ${secretArn} has no SecretString`);
    return value;
  };
}
