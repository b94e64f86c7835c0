/**
 * Applies schema/migrations/NNN_name.sql in version order through the Data API, recording each
 * in `schema_migrations`. Safe to run again (applied versions are skipped, their checksums
 * checked), from several processes at once (see `claim` below), and after a DDL statement
 * outlasted its call (see `runStatement`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { systemClock, type Clock } from './clock.js';
import { DataApiUnavailableError, DatabaseError, DeadlockError, DuplicateKeyError, StatementTimeoutError, toDatabaseError } from './db/errors.js';
import type { Db } from './db/types.js';
import { sleep } from './sleep.js';
import {
  claimMigration,
  createSchemaMigrations,
  executeWithLockWait,
  longTransactions,
  markMigrationApplied,
  readMigration,
  releaseMigration,
  runningStatements,
  type LongTransaction,
  type MigrationRow,
} from './sql/schemaMigrations.js';

export interface Migration {
  version: number;
  /** The file name without `.sql`, e.g. `001_queue`. */
  id: string;
  name: string;
  checksum: string;
  /**
   * Checksums of earlier texts of this file that databases may have applied, from its lines
   * `-- supersedes <sha256>`. An edit that changes how a migration runs, not what it leaves
   * behind (e.g. 002, made online), lists the old checksum so that those databases are not
   * refused; any other edit belongs in a new migration.
   */
  supersedes: string[];
  statements: string[];
}

export interface MigrateOptions {
  /** Where the .sql files are; default `defaultMigrationsDir()`. Ignored when `migrations` is given. */
  dir?: string;
  /** Migrations already loaded (e.g. embedded in a bundle with `parseMigration`). */
  migrations?: readonly Migration[];
  log?: (line: string) => void;
  clock?: Clock;
  /** How long to wait for another run to finish a migration it claimed (default 10 min). */
  waitTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /**
   * How long a DDL statement waits for its table's metadata lock before it gives up and is tried
   * again (default 5 s). While it waits, every new statement on the table waits behind it, so
   * this is the longest an enqueue stalls on a migration's account.
   */
  lockWaitSeconds?: number;
  /**
   * The waits between tries of a DDL statement that gave up on its lock, or was held back by a
   * long transaction; their number bounds the tries (default 1, 2, 5, 10, 20 s: six tries).
   */
  lockRetryDelaysMs?: readonly number[];
  /**
   * A transaction open this long (default 10 s) in a session on this database may hold a queue
   * table's metadata lock: a DDL statement waits for it to end before trying, except on its last try.
   */
  longTransactionSeconds?: number;
}

export interface MigrateResult {
  applied: string[];
  skipped: string[];
}

export class MigrationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

const FILE_NAME = /^(\d+)_([A-Za-z0-9_-]+)\.sql$/;
const STATEMENT_SEPARATOR = /^-- statement[ \t]*$/m;
const SUPERSEDES = /^-- supersedes ([0-9a-f]{64})[ \t]*$/gm;

/**
 * Splits a migration file into statements on lines that are exactly `-- statement`: the Data
 * API runs one statement per call.
 */
export function parseMigration(fileName: string, text: string): Migration {
  const match = FILE_NAME.exec(fileName);
  if (match === null) throw new MigrationError(`Migration file name ${fileName} is not NNN_name.sql`);
  const normalized = text.replace(/\r\n/g, '\n');
  const statements = normalized
    .split(STATEMENT_SEPARATOR)
    .map(stripLeadingComments)
    .filter((statement) => statement !== '');
  if (statements.length === 0) throw new MigrationError(`Migration ${fileName} has no statements`);
  return {
    version: Number(match[1]),
    id: fileName.slice(0, -'.sql'.length),
    name: match[2]!,
    checksum: createHash('sha256').update(normalized).digest('hex'),
    supersedes: [...normalized.matchAll(SUPERSEDES)].map((line) => line[1]!),
    statements,
  };
}

/** Leading comment lines (the file's header) and a trailing `;`, which the Data API may reject. */
function stripLeadingComments(chunk: string): string {
  const lines = chunk.split('\n');
  let first = 0;
  while (first < lines.length && (lines[first]!.trim() === '' || lines[first]!.trimStart().startsWith('--'))) first++;
  return lines.slice(first).join('\n').trim().replace(/;\s*$/, '');
}

/**
 * The first of: `MIGRATIONS_DIR`; schema/migrations next to this module's source (tsx, vitest);
 * schema/migrations under the Lambda task root or the working directory (a bundle, which has no
 * meaningful module location and must ship the .sql files alongside it).
 */
export function defaultMigrationsDir(env: Record<string, string | undefined> = process.env): string {
  const candidates: string[] = [];
  if (env.MIGRATIONS_DIR) candidates.push(env.MIGRATIONS_DIR);
  const moduleUrl: string | undefined = import.meta.url;
  if (typeof moduleUrl === 'string' && moduleUrl.startsWith('file:')) candidates.push(fileURLToPath(new URL('../schema/migrations/', moduleUrl)));
  candidates.push(join(env.LAMBDA_TASK_ROOT ?? process.cwd(), 'schema', 'migrations'));
  const found = candidates.find((dir) => existsSync(dir));
  if (found === undefined) throw new MigrationError(`No migrations directory; looked in ${candidates.join(', ')}`);
  return found;
}

export function loadMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  const files = readdirSync(dir).filter((file) => file.endsWith('.sql'));
  return sortMigrations(files.map((file) => parseMigration(file, readFileSync(join(dir, file), 'utf8'))));
}

function sortMigrations(migrations: readonly Migration[]): Migration[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.version === sorted[i - 1]!.version)
      throw new MigrationError(`Two migrations have version ${sorted[i]!.version}: ${sorted[i - 1]!.id}, ${sorted[i]!.id}`);
  }
  return sorted;
}

export async function migrate(db: Db, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = options.migrations === undefined ? loadMigrations(options.dir) : sortMigrations(options.migrations);
  const log = options.log ?? (() => {});
  const clock = options.clock ?? systemClock;
  const wait = options.sleep ?? sleep;
  const waitTimeoutMs = options.waitTimeoutMs ?? 10 * 60_000;
  const runId = randomUUID();
  const result: MigrateResult = { applied: [], skipped: [] };
  const context: ApplyContext = {
    clock,
    log,
    wait,
    waitTimeoutMs,
    lockWaitSeconds: options.lockWaitSeconds ?? DEFAULT_LOCK_WAIT_SECONDS,
    lockRetryDelaysMs: options.lockRetryDelaysMs ?? DEFAULT_LOCK_RETRY_DELAYS_MS,
    longTransactionSeconds: options.longTransactionSeconds ?? DEFAULT_LONG_TRANSACTION_SECONDS,
    longTransactionCheck: 'on',
  };

  await createSchemaMigrations(db);

  for (const migration of migrations) {
    // Strictly in order: version N is applied (here or elsewhere) before N+1 is looked at.
    let waitedMs = 0;
    for (let poll = 0; ; poll++) {
      const row = await readMigration(db, migration.version);
      if (row?.applied_at != null) {
        assertSameChecksum(migration, row);
        if (row.checksum !== migration.checksum)
          log(`${migration.id} was applied from an earlier text (checksum ${row.checksum.slice(0, 12)}…) that this one supersedes`);
        result.skipped.push(migration.id);
        break;
      }
      if (row === undefined && (await claim(db, migration, runId, clock))) {
        await apply(db, migration, runId, context);
        result.applied.push(migration.id);
        break;
      }
      // Another run holds the claim: wait for it to finish (or to give up and delete its row).
      if (waitedMs >= waitTimeoutMs) {
        throw new MigrationError(
          `Migration ${migration.id} was claimed${row ? ` at ${row.claimed_at.toISOString()}` : ''} by another run that has not finished it after ${waitedMs} ms. ` +
            `If no migration is running, that run died: check which of its statements took effect, then ` +
            `DELETE FROM schema_migrations WHERE version = ${migration.version} AND applied_at IS NULL and run migrate again.`,
        );
      }
      if (poll === 0) log(`waiting for another run to apply ${migration.id}`);
      const delay = Math.min(1_000, 100 * 2 ** poll);
      await wait(delay);
      waitedMs += delay;
    }
  }
  return result;
}

/**
 * Two runs at once: each inserts the version's row before applying it, and the primary key lets
 * exactly one insert succeed. The loser polls until the winner sets `applied_at` (or deletes its
 * row after a failure, in which case the loser tries to claim it itself). A lock (GET_LOCK) would
 * not work here: the Data API gives no session that outlives one call outside a transaction, and
 * DDL commits implicitly so it cannot run inside one.
 */
async function claim(db: Db, migration: Migration, runId: string, clock: Clock): Promise<boolean> {
  try {
    await claimMigration(db, { version: migration.version, name: migration.name, checksum: migration.checksum, runId, now: clock.now() });
    return true;
  } catch (error) {
    if (error instanceof DuplicateKeyError) return false;
    // A lost reply to our own insert: the row tells whether it happened.
    const row = await readMigration(db, migration.version);
    if (row?.claimed_by === runId) return true;
    throw error;
  }
}

export const DEFAULT_LOCK_WAIT_SECONDS = 5;
export const DEFAULT_LOCK_RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000, 20_000];
export const DEFAULT_LONG_TRANSACTION_SECONDS = 10;

interface ApplyContext {
  clock: Clock;
  log: (line: string) => void;
  wait: (ms: number) => Promise<void>;
  waitTimeoutMs: number;
  lockWaitSeconds: number;
  lockRetryDelaysMs: readonly number[];
  longTransactionSeconds: number;
  /** 'off' once the database refused the check (no PROCESS privilege): it is not asked again. */
  longTransactionCheck: 'on' | 'off';
}

async function apply(db: Db, migration: Migration, runId: string, context: ApplyContext): Promise<void> {
  const started = Date.now();
  for (const [index, statement] of migration.statements.entries()) {
    const label = `${migration.id} statement ${index + 1}`;
    try {
      const outcome = await runStatement(db, { label, statement, marker: statementMarker(migration, index) }, context);
      if (outcome.alreadyDone !== undefined) context.log(`${label}: already took effect (${outcome.alreadyDone})`);
    } catch (error) {
      await releaseMigration(db, { version: migration.version, runId }).catch(() => {});
      throw new MigrationError(
        `Migration ${migration.id} failed at statement ${index + 1} of ${migration.statements.length}` +
          (index > 0 ? ` (statements 1–${index} took effect; DDL cannot be rolled back)` : '') +
          `: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
  }
  await markMigrationApplied(db, { version: migration.version, runId, now: context.clock.now() });
  context.log(`applied ${migration.id} (${migration.statements.length} statement${migration.statements.length === 1 ? '' : 's'}, ${Date.now() - started} ms)`);
}

/**
 * What MySQL (and MariaDB) answer when a statement's table, column or index is there already (or
 * gone already): a DDL statement of an earlier run took effect after that run stopped waiting for
 * it. Migrations must therefore not reuse a name for something else. Each is known by its code
 * and, for a Data API message that carries no code, by its text: MySQL 8.0's (share/
 * messages_to_clients.txt, the server error reference) and MariaDB 10.11's, which differ only for
 * 1091 ("Can't DROP 'x'; check that column/key exists" against "Can't DROP INDEX `x`; check that
 * it exists").
 */
const ALREADY_DONE: readonly { code: number; reason: string; text: RegExp }[] = [
  { code: 1050, reason: 'MySQL 1050, the table exists', text: /\bTable '[^']+' already exists/ },
  { code: 1060, reason: 'MySQL 1060, the column exists', text: /\bDuplicate column name '[^']+'/ },
  { code: 1061, reason: 'MySQL 1061, the index exists', text: /\bDuplicate key name '[^']+'/ },
  { code: 1091, reason: 'MySQL 1091, the index or column is dropped already', text: /\bCan't DROP [^;]*; check that (?:column\/key|it) exists/ },
];

/**
 * Why `error` means the statement had already taken effect (e.g. `MySQL 1061, the index exists`),
 * or undefined. A MySQL code in the error decides alone; without one (a Data API message that is
 * the bare MySQL text, or Serverless v1's `code: 0`) the message text does. Takes what
 * `Db.execute` throws, or an SDK error as the client throws it. Exported for `doctor`, which
 * provokes each of these errors on a real cluster and checks that they are recognised.
 */
export function alreadyDoneReason(error: unknown): string | undefined {
  const databaseError = error instanceof DatabaseError ? error : isSdkError(error) ? toDatabaseError(error) : undefined;
  // Not an answer from the database about this statement: the call's own failure.
  if (databaseError === undefined || databaseError instanceof StatementTimeoutError || databaseError instanceof DataApiUnavailableError) return undefined;
  const code = databaseError.mysqlCode;
  if (code !== undefined && code !== 0) return ALREADY_DONE.find((known) => known.code === code)?.reason;
  const known = ALREADY_DONE.find((candidate) => candidate.text.test(databaseError.message));
  return known === undefined ? undefined : `${known.reason}, known by its message: it carried no code`;
}

/** As the SDK throws a Data API answer: lib/db maps it the way `Db` calls do. */
const isSdkError = (error: unknown): boolean => error instanceof Error && typeof (error as { $metadata?: unknown }).$metadata === 'object';

/** How many times one statement is sent after calls that ended without its outcome. */
const MAX_SENDS = 4;

/** A statement sent: it ran (`alreadyDone` undefined), or the server answered that it had already taken effect, and why. */
interface StatementOutcome {
  alreadyDone: string | undefined;
}

interface StatementToRun {
  /** For logs, e.g. `005_dead_letter_key statement 1`. */
  label: string;
  statement: string;
  /** A comment sent ahead of the statement, so that the process list shows which one it is. */
  marker: string;
}

/**
 * Runs one statement on its own (DDL commits implicitly) with continueAfterTimeout, so a long
 * ALTER keeps going past the Data API's 45 s call limit instead of being cancelled halfway. When
 * a call ends without the outcome (the call limit, or the connection dropped) the statement may
 * still be running: this waits until the server no longer runs it, then sends it again, and the
 * server answers either that it is done (`alreadyDoneReason`) or, if it was cancelled, runs it.
 * Before the first send it also waits for the same statement from an earlier run that gave up on
 * it. Two copies of an ALTER never run at once anyway: the second waits on the table's metadata
 * lock. DDL waits for that lock only briefly (see `runDdl`).
 */
async function runStatement(db: Db, toRun: StatementToRun, context: ApplyContext): Promise<StatementOutcome> {
  const sql = `${toRun.marker}\n${toRun.statement}`;
  for (let send = 1; ; send++) {
    await waitWhileRunning(db, toRun, context);
    try {
      if (isDdl(toRun.statement)) await runDdl(db, sql, toRun.label, context);
      else await db.execute(sql, undefined, { continueAfterTimeout: true });
      return { alreadyDone: undefined };
    } catch (error) {
      const done = alreadyDoneReason(error);
      if (done !== undefined) return { alreadyDone: done };
      if (!mayStillBeRunning(error) || send >= MAX_SENDS) throw error;
      context.log(`the call ended while the statement may still run (${error instanceof Error ? error.name : 'error'}); waiting for it`);
    }
  }
}

const DDL = /^(?:ALTER|CREATE|DROP|RENAME|TRUNCATE)\b/i;
const isDdl = (statement: string) => DDL.test(statement.trimStart());

/**
 * A DDL statement needs its table's exclusive metadata lock, even an online one (briefly, at its
 * start and end). A transaction that touched the table holds that lock out until it ends, and
 * while the DDL waits every new statement on the table queues behind it: enqueues freeze. So the
 * DDL waits at most `lockWaitSeconds` (MySQL 1205), and is tried again after a pause in which
 * the queue works; and while a long transaction is open on this database it is not tried at all,
 * except on its last try (the check cannot tell which tables a transaction touched, so it may
 * hold nothing the DDL needs). Each try is logged; the last failure names what held the lock.
 */
async function runDdl(db: Db, sql: string, label: string, context: ApplyContext): Promise<void> {
  const delays = context.lockRetryDelaysMs;
  const tries = delays.length + 1;
  let seen: LongTransaction[] = [];
  for (let attempt = 1; ; attempt++) {
    const last = attempt === tries;
    const delay = delays[attempt - 1] ?? 0;
    const blockers = await openLongTransactions(db, context);
    if (blockers.length > 0) seen = blockers;
    if (blockers.length > 0 && !last) {
      context.log(`${label}: try ${attempt} of ${tries} held back by ${describeTransactions(blockers)}, which may hold its table's lock; waiting ${delay} ms`);
      await context.wait(delay);
      continue;
    }
    try {
      await executeWithLockWait(db, sql, { seconds: context.lockWaitSeconds, mayStillRun: mayStillBeRunning });
      return;
    } catch (error) {
      if (!isLockWait(error)) throw error;
      if (last) {
        throw new MigrationError(
          `gave up after ${tries} tries: each time another session held the table's metadata lock for longer than ${context.lockWaitSeconds} s ` +
            `(MySQL ${error.mysqlCode ?? 1205})` +
            (seen.length > 0 ? `; long transactions seen on this database: ${describeTransactions(seen)}` : '') +
            `. End the transaction that holds it (or wait for it to end) and run migrate again.`,
          { cause: error },
        );
      }
      context.log(
        `${label}: try ${attempt} of ${tries} waited ${context.lockWaitSeconds} s for its table's lock and gave up (MySQL ${error.mysqlCode ?? 1205}); trying again in ${delay} ms`,
      );
      await context.wait(delay);
    }
  }
}

/** A lock wait timeout, or a deadlock over the locks: the statement did not run, and may be tried again. */
const isLockWait = (error: unknown) => error instanceof DeadlockError;

/** Long transactions on this database, or none when the database will not tell (logged once). */
async function openLongTransactions(db: Db, context: ApplyContext): Promise<LongTransaction[]> {
  if (context.longTransactionCheck === 'off') return [];
  try {
    return await longTransactions(db, { seconds: context.longTransactionSeconds });
  } catch (error) {
    if (!isAccessDenied(error)) throw error;
    context.longTransactionCheck = 'off';
    context.log(
      'cannot look for long transactions before DDL (information_schema.INNODB_TRX needs the PROCESS privilege); ' +
        `skipping that check: each DDL statement still waits at most ${context.lockWaitSeconds} s for its lock`,
    );
    return [];
  }
}

/** MySQL 1227 ("Access denied; you need (at least one of) the PROCESS privilege(s)"), or the same without a code. */
const isAccessDenied = (error: unknown) =>
  error instanceof DatabaseError && (error.mysqlCode === 1227 || error.mysqlCode === 1142 || /\bAccess denied\b/i.test(error.message));

const describeTransactions = (transactions: readonly LongTransaction[]) =>
  transactions.map((t) => `transaction ${t.trxId} (session ${t.sessionId}, open ${t.ageSeconds} s)`).join(', ');

function mayStillBeRunning(error: unknown): boolean {
  return error instanceof StatementTimeoutError || (error instanceof DataApiUnavailableError && error.requestMayHaveRun);
}

/**
 * The comment each statement is sent with, e.g. `/* aurora-queue 005_dead_letter_key statement 1 *\/`:
 * MariaDB keeps a leading comment in the process list's INFO (tried on 10.11), and so does MySQL
 * (the server keeps the text as received). It names a statement of one migration whatever the
 * run; no colon (a Data API parameter) or `*\/` can occur in it.
 */
export function statementMarker(migration: Pick<Migration, 'id'>, index: number): string {
  return `/* aurora-queue ${migration.id} statement ${index + 1} */`;
}

/**
 * Whether a process-list INFO is this statement. By its marker when the comment survived; else by
 * the text with comments and whitespace taken out (the Data API may not pass the SQL byte for
 * byte, and earlier runs sent no marker), where INFO may be only a head of the statement (it is
 * read cut short, and servers may truncate it) as long as that head is long enough to tell
 * statements apart. Exported for `doctor`, which checks the match on a real cluster.
 */
export function isSameStatement(info: string, statement: string, marker?: string): boolean {
  if (marker !== undefined && info.includes(marker)) return true;
  const running = normalizeSql(info);
  const ours = normalizeSql(statement);
  if (running === '' || ours === '') return false;
  if (running === ours) return true;
  return running.length >= MIN_MATCHED_CHARS && running.length < ours.length && ours.startsWith(running);
}

/** Whitespace-free characters a cut-short INFO must keep: more than any two statements share (`ALTERTABLEqueue_messagesADD…`). */
const MIN_MATCHED_CHARS = 64;

/** Comments out (MySQL's three kinds), then all whitespace: what survives any re-spacing. */
function normalizeSql(sql: string): string {
  return sql
    .replace(/\/\*[\s\S]*?(?:\*\/|$)/g, ' ')
    .replace(/(?:#|--(?=\s|$))[^\n]*/g, ' ')
    .replace(/\s+/g, '')
    .replace(/;$/, '');
}

/** How much of each session's INFO is read, and how many sessions (longest running first). */
const PROCESS_INFO_CHARS = 1_024;
const PROCESS_LIST_LIMIT = 200;

/** Another session running this statement (see `isSameStatement`), or undefined. */
export async function findRunningStatement(db: Db, statement: string, marker?: string): Promise<{ id: number; seconds: number } | undefined> {
  const running = await runningStatements(db, { infoChars: PROCESS_INFO_CHARS, limit: PROCESS_LIST_LIMIT });
  const found = running.find((session) => isSameStatement(session.info, statement, marker));
  return found === undefined ? undefined : { id: found.id, seconds: found.seconds };
}

/** Polls until no other session runs this statement. */
async function waitWhileRunning(db: Db, toRun: StatementToRun, context: ApplyContext): Promise<void> {
  let waitedMs = 0;
  for (let poll = 0; ; poll++) {
    if ((await findRunningStatement(db, toRun.statement, toRun.marker)) === undefined) return;
    if (waitedMs >= context.waitTimeoutMs) {
      throw new MigrationError(`The statement is still running after ${waitedMs} ms; run migrate again once it has finished: ${toRun.statement.slice(0, 120)}`);
    }
    if (poll === 0) context.log('the statement is running in another session (an earlier call); waiting for it');
    const delay = Math.min(2_000, 100 * 2 ** poll);
    await context.wait(delay);
    waitedMs += delay;
  }
}

function assertSameChecksum(migration: Migration, row: MigrationRow): void {
  if (row.checksum !== migration.checksum && !migration.supersedes.includes(row.checksum)) {
    throw new MigrationError(
      `Migration ${migration.id} was applied with checksum ${row.checksum.slice(0, 12)}… but the file now has ${migration.checksum.slice(0, 12)}…: ` +
        `an applied migration must not be edited; add a new migration instead.`,
    );
  }
}
