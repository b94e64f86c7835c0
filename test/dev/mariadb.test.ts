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

const run = promisify(execFile);
const MARIADBD = ['/usr/sbin/mariadbd', '/usr/local/sbin/mariadbd'].find((path) => existsSync(path));

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
 * What `npm start` does when MariaDB is installed but not running, on a private data directory and
 * port so the machine's own server is left alone.
 */
describe.skipIf(MARIADBD === undefined)('starting mariadbd', () => {
  it('starts a server, waits until it serves, and stops it with its process group', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aq-mariadbd-'));
    try {
      await run('mariadb-install-db', ['--no-defaults', `--datadir=${dir}/data`, '--auth-root-authentication-method=normal', `--user=${process.env.USER ?? 'root'}`, '--skip-test-db'], { timeout: 60_000 });
      const port = await freePort();
      const server = startMariadbd(MARIADBD!, ['--no-defaults', `--datadir=${dir}/data`, `--socket=${dir}/sock`, `--pid-file=${dir}/pid`, `--port=${port}`, '--bind-address=127.0.0.1', '--skip-log-error', ...(process.getuid?.() === 0 ? ['--user=root'] : [])]);
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

  it('reports a server that exits at once, with the end of its output', async () => {
    const server = startMariadbd(MARIADBD!, ['--no-defaults', '--no-such-option']);
    const error = await waitUntilServing(`mysql://root@127.0.0.1:${await freePort()}`, server, 30_000).catch((thrown: unknown) => thrown);
    expect((error as Error).message).toMatch(/^Could not start MariaDB \(it exited\):\n.*(no-such-option|Aborting)/s);
    expect(groupAlive(server.child.pid!)).toBe(false);
  });
});
