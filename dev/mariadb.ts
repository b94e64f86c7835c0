/**
 * The local stack's MariaDB (the stand-in for Aurora MySQL): is it there, can it be started, and
 * if not, what exactly to do. Only the local Data API server talks to it; the product never does.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import mysql from 'mysql2/promise';
import { CliError } from '../cli/errors.js';
import { tail } from './outputTail.js';
import { spawnProcessGroup, type ProcessGroup } from './processGroup.js';

export const DEFAULT_DATABASE_URL = 'mysql://root@127.0.0.1:3306';

export type Probe = { ok: true; version: string } | { ok: false; reason: 'unreachable' | 'access-denied' | 'other'; message: string };

/** Connects once and asks for the version. */
export async function probeMysql(databaseUrl: string, timeoutMs = 3_000): Promise<Probe> {
  let connection: mysql.Connection | undefined;
  try {
    connection = await mysql.createConnection({ uri: databaseUrl, connectTimeout: timeoutMs });
    const [rows] = await connection.query('SELECT VERSION() AS version');
    return { ok: true, version: String((rows as { version: string }[])[0]?.version ?? 'unknown') };
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH')
      return { ok: false, reason: 'unreachable', message: message ?? String(code) };
    if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_ACCESS_DENIED_NO_PASSWORD_ERROR')
      return { ok: false, reason: 'access-denied', message: message ?? String(code) };
    return { ok: false, reason: 'other', message: message ?? String(error) };
  } finally {
    await connection?.end().catch(() => {});
  }
}

export interface EnsureMariaDbOptions {
  databaseUrl: string;
  log: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** How long a started server may take to accept connections. */
  startTimeoutMs?: number;
  /**
   * What to start when nothing answers, whatever the URL (tests: a private data directory and port).
   * Default: the installed `mariadbd` with its own configuration, only for the default local URL.
   */
  server?: { binary: string; args: readonly string[] };
}

export interface RunningMariaDb {
  version: string;
  /** Set when this call started the server: stop it when done. */
  started: ProcessGroup | undefined;
}

/**
 * MariaDB at `databaseUrl`, started here when it is the default local one, is not running, and a
 * `mariadbd` binary is installed; otherwise a CliError that says what to do.
 */
export async function ensureMariaDb(options: EnsureMariaDbOptions): Promise<RunningMariaDb> {
  const { databaseUrl, log } = options;
  const where = hostOf(databaseUrl);
  const first = await probeMysql(databaseUrl);
  if (first.ok) return { version: first.version, started: undefined };
  if (first.reason !== 'unreachable') throw new CliError(cannotUse(where, first));

  const binary = options.server?.binary ?? (isDefaultLocal(databaseUrl) ? findMariadbd(options.env ?? process.env) : undefined);
  if (binary === undefined) throw new CliError(`MariaDB is not running at ${where} (${first.message}).\n${howToStart(databaseUrl)}`);

  log(`MariaDB is not running at ${where}; starting ${binary}`);
  const asRoot = process.getuid?.() === 0;
  if (asRoot && options.server === undefined) {
    // Debian's packaged server keeps its socket and pid file here and refuses to start without it.
    try {
      mkdirSync('/run/mysqld', { recursive: true });
    } catch {
      // The server says what it misses.
    }
  }
  // As root the server must be told to drop to the mysql user; as a user (Homebrew) it runs as that user.
  const started = startMariadbd(binary, options.server?.args ?? (asRoot ? ['--user=mysql'] : []));
  const version = await waitUntilServing(databaseUrl, started, options.startTimeoutMs ?? 30_000);
  log(`MariaDB ${version} started (it stops with this command)`);
  return { version, started };
}

/** `mariadbd` with `args`, in a process group of its own; its output is kept for error messages. */
export function startMariadbd(binary: string, args: readonly string[] = []): ProcessGroup {
  return spawnProcessGroup('mariadbd', binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Waits until the server answers at `databaseUrl` and gives its version. If it exits, refuses the
 * login or does not answer in time, it is stopped and a CliError carries the end of its output.
 */
export async function waitUntilServing(databaseUrl: string, server: ProcessGroup, timeoutMs: number): Promise<string> {
  const where = hostOf(databaseUrl);
  let output = '';
  server.child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  server.child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  void server.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const probe = await probeMysql(databaseUrl, 1_000);
    if (probe.ok) return probe.version;
    if (probe.reason !== 'unreachable') {
      await server.stop();
      throw new CliError(cannotUse(where, probe));
    }
    if (exited || Date.now() > deadline) {
      await server.stop();
      throw new CliError(
        `Could not start MariaDB (${exited ? 'it exited' : `not answering at ${where} after ${Math.round(timeoutMs / 1_000)} s`}):\n${tail(output)}\n${howToStart(databaseUrl)}`,
      );
    }
  }
}

function findMariadbd(env: NodeJS.ProcessEnv): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/opt/homebrew/opt/mariadb/bin', '/usr/local/opt/mariadb/bin'];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, 'mariadbd');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

function isDefaultLocal(databaseUrl: string): boolean {
  const url = new URL(databaseUrl);
  return (url.hostname === '127.0.0.1' || url.hostname === 'localhost') && (url.port === '' || url.port === '3306');
}

function hostOf(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  return `${url.hostname}:${url.port || '3306'}`; // never the password
}

function cannotUse(where: string, probe: Extract<Probe, { ok: false }>): string {
  if (probe.reason === 'access-denied') {
    return [
      `MariaDB at ${where} refused the login (${probe.message}).`,
      'The local stack connects as root with an empty password over TCP. A fresh Debian/Ubuntu install lets',
      'root in only over the unix socket; allow both with:',
      `  sudo mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket; FLUSH PRIVILEGES;"`,
      'or point DATABASE_URL at an account that may create databases: DATABASE_URL=mysql://user:password@127.0.0.1:3306',
    ].join('\n');
  }
  return `MariaDB at ${where} did not answer as expected: ${probe.message}`;
}

export function howToStart(databaseUrl: string): string {
  const where = hostOf(databaseUrl);
  return [
    `Start MariaDB 10.11+ (or MySQL 8) on ${where}, then run this again:`,
    '  Debian/Ubuntu:  sudo apt-get install -y mariadb-server && sudo service mariadb start',
    '  macOS:          brew install mariadb && brew services start mariadb',
    '  Docker:         docker run -d --name aurora-queue-mariadb -p 3306:3306 -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 mariadb:10.11',
    'or set DATABASE_URL=mysql://user:password@host:port to use another server.',
  ].join('\n');
}
