/** The installed entry point, `bin/aurora-queue.js`, as a user runs it: a real process, real stdio. */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { useStack } from '../support/stack.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = fileURLToPath(new URL('../../bin/aurora-queue.js', import.meta.url));
const run = promisify(execFile);

const stack = useStack();
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  env = { ...process.env, DATA_API_ENDPOINT: stack.endpoint, DB_NAME: stack.database };
});
function runBin(args: string[], stdin?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? '');
  });
}

it('runs the TypeScript CLI with no build step: enqueue from stdin, then stats as JSON', async () => {
  const texts = [1, 2].map((n) => JSON.stringify({ type: 'sms.send', payload: { to: `+155500000${n}`, body: 'hi' } })).join('\n');
  const enqueued = await runBin(['enqueue', 'sms', '--file', '-'], texts);
  expect(enqueued).toEqual({ code: 0, stdout: 'enqueued 2 messages on sms in 1 batch\n', stderr: '' });

  const stats = await runBin(['stats', 'sms', '--json']);
  expect(stats.code).toBe(0);
  expect(stats.stderr).toBe('');
  expect(JSON.parse(stats.stdout)).toMatchObject({ queue: 'sms', counts: { waiting: 2 } });
});

it('exits non-zero with the message on stderr', async () => {
  expect(await runBin(['frobnicate'])).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('unknown command "frobnicate"') });
  expect(await runBin(['status', '0190a5b4-0000-7000-8000-000000000000'])).toMatchObject({ code: 1, stderr: expect.stringContaining('no message with id') });
});

it('is what `npx aurora-queue` runs inside the project', async () => {
  const { stdout } = await run('npx', ['--no-install', 'aurora-queue', '--help'], { cwd: ROOT, env, timeout: 60_000 });
  expect(stdout).toContain('usage: aurora-queue <command>');
});

it('ends on Ctrl-C while waiting for standard input', async () => {
  const child = spawn(process.execPath, [BIN, 'enqueue', 'sms', '--file', '-'], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? 130 : null))));
  // Give it time to start reading, then interrupt it as a terminal would.
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  child.stdin.destroy();
});
