/**
 * Vitest globalSetup of `npm test` and `npm run test:chaos`: before any test file runs, MariaDB
 * answers at DATABASE_URL. An installed but stopped server is started the way `npm start` does
 * (dev/mariadb.ts); without one the run stops at once with what to install, instead of every file
 * failing on ECONNREFUSED.
 *
 * A server started here is stopped again at teardown, as `npm start` stops the one it started:
 * the run leaves the machine as it found it. A server that was already running is left alone.
 */
import { CliError } from '../../cli/errors.js';
import { ensureMariaDb, type EnsureMariaDbOptions } from '../../dev/mariadb.js';
import { DATABASE_URL } from './database.js';

export interface TestDatabaseServer {
  version: string;
  /** Whether this run started the server (and so stops it). */
  startedHere: boolean;
  /** Stops the server if this run started it; otherwise does nothing. */
  teardown(): Promise<void>;
}

export interface EnsureTestDatabaseOptions {
  databaseUrl: string;
  log: (line: string) => void;
  /** What to start when nothing answers (tests of this file); default as for `npm start`. */
  server?: EnsureMariaDbOptions['server'];
}

/** MariaDB at `databaseUrl`, started if it can be; otherwise an error that says what to do. */
export async function ensureTestDatabase(options: EnsureTestDatabaseOptions): Promise<TestDatabaseServer> {
  let running;
  try {
    running = await ensureMariaDb({ databaseUrl: options.databaseUrl, log: options.log, server: options.server, startTimeoutMs: 60_000 });
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    throw new TestDatabaseUnavailable(`The tests need MariaDB (DATABASE_URL, default mysql://root@127.0.0.1:3306).\n${error.message}`);
  }
  const started = running.started;
  return {
    version: running.version,
    startedHere: started !== undefined,
    teardown: async () => {
      await started?.stop({ signal: 'SIGTERM', graceMs: 30_000 });
    },
  };
}

/** No usable server, and none that could be started; the message says what to do. */
export class TestDatabaseUnavailable extends Error {
  override name = 'TestDatabaseUnavailable';
}

export default async function setup(): Promise<() => Promise<void>> {
  try {
    const server = await ensureTestDatabase({ databaseUrl: DATABASE_URL, log: (line) => process.stdout.write(`${line}\n`) });
    return server.teardown;
  } catch (error) {
    if (!(error instanceof TestDatabaseUnavailable)) throw error;
    // Thrown, it would come after vitest's "No test files found" and with a stack; no test has
    // started yet, so there is nothing to clean up.
    process.stderr.write(`\n${error.message}\n`);
    process.exit(1);
  }
}
