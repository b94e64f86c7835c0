/**
 * Vitest globalSetup of `npm test` and `npm run test:chaos`: before any test file runs, MariaDB
 * answers at DATABASE_URL. An installed but stopped server is started the way `npm start` does
 * (dev/mariadb.ts); without one the run stops at once with what to install, instead of every file
 * failing on ECONNREFUSED. Likewise Chromium, when the run includes a browser test: installed with
 * apt when missing and the run is root (dev/chromium.ts), else the run stops with the command.
 *
 * A server started here is stopped again at teardown, as `npm start` stops the one it started:
 * the run leaves the machine as it found it. A server that was already running is left alone.
 */
import { readFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { CliError } from '../../cli/errors.js';
import { ChromiumMissingError, ensureChromium } from '../../dev/chromium.js';
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

/**
 * Whether this run includes a file that launches Chromium: only those need it, so a run of other
 * files (or on a machine without apt, such as a Mac) neither installs nor asks for it.
 */
export async function runsBrowserTests(project: TestProject): Promise<boolean> {
  // Vitest keeps the command line's file filters here, outside its typed API; without any, the
  // whole suite runs (and so does a Vitest that renamed it: asking for Chromium too often is safe).
  const filters = (project.vitest as unknown as { filenamePattern?: string[] }).filenamePattern;
  const { testFiles } = await project.globTestFiles(filters);
  return testFiles.some((file) => /\blaunchChromium\(/.test(readFileSync(file, 'utf8')));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  try {
    // Before MariaDB, so that a missing browser stops the run before anything is started.
    if (await runsBrowserTests(project)) await ensureChromium({ log });
    const server = await ensureTestDatabase({ databaseUrl: DATABASE_URL, log });
    return server.teardown;
  } catch (error) {
    if (!(error instanceof TestDatabaseUnavailable || error instanceof ChromiumMissingError)) throw error;
    // Thrown, it would come after vitest's "No test files found" and with a stack; no test has
    // started yet, so there is nothing to clean up.
    process.stderr.write(`\n${error.message}\n`);
    process.exit(1);
  }
}
