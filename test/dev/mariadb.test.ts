import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../cli/errors.js';
import { ensureMariaDb, probeMysql, startMariadbd, waitUntilServing } from '../../dev/mariadb.js';
import { freePort } from '../../dev/ports.js';
import { groupAlive } from '../../dev/processGroup.js';
import { DATABASE_URL } from '../support/database.js';
import { ensureTestDatabase, TestDatabaseUnavailable } from '../support/globalSetup.js';
import { ROOT } from '../scripts/helpers.js';

const run = promisify(execFile);
const MARIADBD = ['/usr/sbin/mariadbd', '/usr/local/sbin/mariadbd'].find((path) => existsSync(path));

/** A data directory of its own, with root allowed in over TCP without a password. */
async function privateDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'aq-mariadbd-'));
  await run(
    'mariadb-install-db',
    ['--no-defaults', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', `--user=${process.env.USER ?? 'root'}`, '--skip-test-db'],
    { timeout: 60_000 },
  );
  return dir;
}

/** `mariadbd` arguments for a server on `dir` and `port` only, leaving the machine's own alone. */
function privateServerArgs(dir: string, port: number): string[] {
  return [
    '--no-defaults',
    `--datadir=${dir}/data`,
    `--socket=${dir}/sock`,
    `--pid-file=${dir}/pid`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    '--skip-log-error',
    ...(process.getuid?.() === 0 ? ['--user=root'] : []),
  ];
}

describe('probeMysql', () => {
  it('answers the version of a running server', async () => {
    expect(await probeMysql(DATABASE_URL)).toEqual({ ok: true, version: expect.stringMatching(/^\d+\.\d+/) });
  });

  it('tells an absent server from a refused login', async () => {
    expect(await probeMysql(`mysql://root@127.0.0.1:${await freePort()}`)).toMatchObject({ ok: false, reason: 'unreachable' });
    const url = new URL(DATABASE_URL);
    expect(await probeMysql(`mysql://aq_nobody:wrong@${url.host}`)).toMatchObject({ ok: false, reason: 'access-denied' });
  });
});

describe('ensureMariaDb', () => {
  it('uses a running server and starts nothing', async () => {
    const lines: string[] = [];
    expect(await ensureMariaDb({ databaseUrl: DATABASE_URL, log: (line) => lines.push(line) })).toEqual({ version: expect.any(String), started: undefined });
    expect(lines).toEqual([]);
  });

  it('says exactly what to do for a server it does not manage', async () => {
    const port = await freePort();
    const error = await ensureMariaDb({ databaseUrl: `mysql://root@127.0.0.1:${port}`, log: () => {} }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toContain(`MariaDB is not running at 127.0.0.1:${port}`);
    expect((error as Error).message).toContain('docker run -d --name aurora-queue-mariadb -p 3306:3306');
  });

  it('explains a refused root login and how to allow it', async () => {
    const url = new URL(DATABASE_URL);
    const error = await ensureMariaDb({ databaseUrl: `mysql://aq_nobody:wrong@${url.host}`, log: () => {} }).catch((thrown: unknown) => thrown);
    expect((error as Error).message).toContain('refused the login');
    expect((error as Error).message).toContain("IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket");
  });
});

/*
 * What `npm start` and `npm test` do when MariaDB is installed but not running, on a private data
 * directory and port so the machine's own server is left alone.
 */
describe.skipIf(MARIADBD === undefined)('starting mariadbd', () => {
  it('starts a server, waits until it serves, and stops it with its process group', async () => {
    const dir = await privateDataDir();
    try {
      const port = await freePort();
      const server = startMariadbd(MARIADBD!, privateServerArgs(dir, port));
      try {
        const url = `mysql://root@127.0.0.1:${port}`;
        expect(await waitUntilServing(url, server, 30_000)).toMatch(/^\d+\.\d+/);
      } finally {
        await server.stop({ graceMs: 30_000 });
      }
      expect(groupAlive(server.child.pid!)).toBe(false);
      expect(await probeMysql(`mysql://root@127.0.0.1:${port}`)).toMatchObject({ ok: false, reason: 'unreachable' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it("npm test's globalSetup starts a stopped server and stops it again at teardown", async () => {
    const dir = await privateDataDir();
    try {
      const port = await freePort();
      const url = `mysql://root@127.0.0.1:${port}`;
      const lines: string[] = [];
      const server = await ensureTestDatabase({
        databaseUrl: url,
        log: (line) => lines.push(line),
        server: { binary: MARIADBD!, args: privateServerArgs(dir, port) },
      });
      try {
        expect(server).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+/), startedHere: true });
        expect(lines).toEqual([
          `MariaDB is not running at 127.0.0.1:${port}; starting ${MARIADBD}`,
          expect.stringMatching(/^MariaDB \S+ started \(it stops with this command\)$/),
        ]);
        expect(await probeMysql(url)).toMatchObject({ ok: true });
      } finally {
        await server.teardown();
      }
      expect(await probeMysql(url)).toMatchObject({ ok: false, reason: 'unreachable' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);

  it('reports a server that exits at once, with the end of its output', async () => {
    const server = startMariadbd(MARIADBD!, ['--no-defaults', '--no-such-option']);
    const error = await waitUntilServing(`mysql://root@127.0.0.1:${await freePort()}`, server, 30_000).catch((thrown: unknown) => thrown);
    expect((error as Error).message).toMatch(/^Could not start MariaDB \(it exited\):\n.*(no-such-option|Aborting)/s);
    expect(groupAlive(server.child.pid!)).toBe(false);
  });
});

describe("npm test's globalSetup", () => {
  it('uses a running server, and leaves it running at teardown', async () => {
    const lines: string[] = [];
    const server = await ensureTestDatabase({ databaseUrl: DATABASE_URL, log: (line) => lines.push(line) });
    expect(server).toMatchObject({ version: expect.stringMatching(/^\d+\.\d+/), startedHere: false });
    await server.teardown();
    expect(await probeMysql(DATABASE_URL)).toMatchObject({ ok: true });
    expect(lines).toEqual([]);
  });

  it('says what to install when there is no server it can start', async () => {
    const port = await freePort();
    const error = await ensureTestDatabase({ databaseUrl: `mysql://root@127.0.0.1:${port}`, log: () => {} }).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TestDatabaseUnavailable);
    expect((error as Error).message).toMatch(
      /^The tests need MariaDB \(DATABASE_URL, default mysql:\/\/root@127\.0\.0\.1:3306\)\.\nMariaDB is not running at 127\.0\.0\.1:\d+/,
    );
    expect((error as Error).message).toContain('sudo apt-get install -y mariadb-server && sudo service mariadb start');
  });
});

/** `vitest run` of this repository (its vitest.config.ts) as `npm test` runs it, output captured. */
async function runVitest(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _inherited, ...rest } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(ROOT, 'node_modules/vitest/vitest.mjs'), 'run', ...args],
      { cwd: ROOT, env: { ...rest, CI: 'true', NO_COLOR: '1', ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
    );
  });
}

describe('npm test', () => {
  it('stops before any test with what to install when MariaDB is missing', async () => {
    const { code, output } = await runVitest(['test/db/config.test.ts'], { DATABASE_URL: `mysql://root@127.0.0.1:${await freePort()}` });
    expect(code).toBe(1);
    expect(output).toContain('The tests need MariaDB');
    expect(output).toContain('sudo apt-get install -y mariadb-server && sudo service mariadb start');
    expect(output).not.toContain('No test files found');
    expect(output).not.toMatch(/Test Files/);
  });

  it("prints no AWS SDK Node-version notice from its workers (the SDK's own switch, set in vitest.config.ts)", async () => {
    // test/db/client.test.ts creates SDK clients in a vitest worker, which without the switch
    // prints the notice on Node < 22.
    const { code, output } = await runVitest(['test/db/client.test.ts'], {});
    expect(output).toMatch(/Test Files +1 passed/);
    expect(code).toBe(0);
    expect(output).not.toContain('NodeVersionSupportWarning');
  });
});
