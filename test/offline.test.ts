/**
 * The HTTP API end to end: `serverless offline` (the real serverless.yml, bundled by esbuild)
 * → the Lambda handlers → the SDK → the local Data API server → MariaDB. Ports are picked free so
 * a developer's running stack on 3000/3002/8087 is left alone.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../dev/ports.js';
import { useStack } from './support/stack.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const READY_TIMEOUT_MS = 90_000;

const stack = useStack();
let offline: ChildProcess | undefined;
let baseUrl: string;
let output = '';

/** Resolves once serverless-offline says its HTTP server is up; rejects if it exits first. */
function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serverless offline not ready after ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Server ready:/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serverless offline exited with ${code}:\n${output}`));
    });
  });
}

/** Ends serverless-offline and everything it started (its own process group). */
async function stopOffline(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(-child.pid, 'SIGTERM');
  const killed = await Promise.race([exited.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 5_000))]);
  if (!killed) {
    process.kill(-child.pid, 'SIGKILL');
    await exited;
  }
}

beforeAll(async () => {
  const [httpPort, lambdaPort, websocketPort, albPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  baseUrl = `http://127.0.0.1:${httpPort}`;
  offline = spawn(
    'npx',
    [
      'serverless',
      'offline',
      'start',
      '--stage',
      'local',
      '--host',
      '127.0.0.1',
      '--httpPort',
      String(httpPort),
      '--lambdaPort',
      String(lambdaPort),
      '--websocketPort',
      String(websocketPort),
      '--albPort',
      String(albPort),
      `--param=dataApiEndpoint=${stack.endpoint}`,
      `--param=dbName=${stack.database}`,
      // Not the built-in 60 and 5: the API's functions must use the deployment's drain-wide settings.
      '--param=leaseSeconds=45',
      '--param=maxAttempts=9',
    ],
    {
      cwd: ROOT,
      // A process group of its own, so the esbuild and worker processes it starts end with it.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1', SLS_TELEMETRY_DISABLED: '1' },
    },
  );
  await waitForReady(offline);
}, READY_TIMEOUT_MS + 30_000);

afterAll(async () => {
  if (offline) await stopOffline(offline);
});

it('enqueues over HTTP and follows the message', async () => {
  const posted = await fetch(`${baseUrl}/queues/sms/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'sms.send', payload: { to: '+15550001111', body: 'Your code is 1234 🔐' }, delaySeconds: 60, dedupKey: 'otp-1' }),
  });
  const answer = (await posted.json()) as { id: string; duplicate: boolean };
  expect({ status: posted.status, answer }, output).toMatchObject({ status: 202, answer: { duplicate: false } });

  const again = await fetch(`${baseUrl}/queues/sms/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ type: 'sms.send', payload: { to: '+15550001111', body: 'again' }, dedupKey: 'otp-1' }),
  });
  expect(await again.json()).toEqual({ id: answer.id, duplicate: true });

  const status = await fetch(`${baseUrl}/messages/${answer.id}`);
  expect(status.status).toBe(200);
  expect(await status.json()).toMatchObject({ id: answer.id, queue: 'sms', type: 'sms.send', status: 'waiting', attempts: 0 });

  const [[row]] = (await stack.sql.query('SELECT CAST(payload AS CHAR) AS payload FROM queue_messages WHERE id = ?', [answer.id])) as any;
  expect(JSON.parse(row.payload).body).toBe('Your code is 1234 🔐');
});

it('refuses bad input over HTTP with the JSON error', async () => {
  const response = await fetch(`${baseUrl}/queues/sms/messages`, {
    method: 'POST',
    headers: { 'content-type': 'text/plain' },
    body: '{}',
  });
  expect(response.status).toBe(415);
  expect(await response.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });

  const unknown = await fetch(`${baseUrl}/messages/0190a5b4-0000-7000-8000-000000000000`);
  expect(unknown.status).toBe(404);
});

it("enqueues and redrives with the deployment's max attempts and lease, not the built-in ones", async () => {
  const post = (body: unknown) =>
    fetch(`${baseUrl}/queues/sms/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
      async (response) => (await response.json()) as { id: string },
    );
  // Delayed, so the drain's schedule cannot take them meanwhile.
  const { id } = await post({ type: 'sms.send', payload: { to: '+15550002222', body: 'attempts' }, delaySeconds: 3_600 });
  expect(await (await fetch(`${baseUrl}/messages/${id}`)).json()).toMatchObject({ maxAttempts: 9 });

  // queue.config.ts declares no FIFO queue, so the dead letter of a group is made by hand: a
  // redrive delays any message with a group key by the lease (lib/operations.ts redrive).
  const { id: dead } = await post({ type: 'sms.send', payload: { to: '+15550003333', body: 'grouped' }, delaySeconds: 3_600 });
  await stack.sql.query(`UPDATE queue_messages SET status = 'dead', group_key = 'acct-1', finished_at = created_at, last_error = 'boom' WHERE id = ?`, [dead]);
  const redriven = await fetch(`${baseUrl}/queues/sms/redrive`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ids: [dead] }),
  });
  expect(await redriven.json()).toMatchObject({ redriven: 1 });
  const [[row]] = (await stack.sql.query('SELECT TIMESTAMPDIFF(SECOND, updated_at, available_at) AS delay FROM queue_messages WHERE id = ?', [dead])) as any;
  expect(Number(row.delay)).toBe(45);
});

it('routes a group key with an encoded "/" and hands it over decoded', async () => {
  // queue.config.ts declares no queue with groups: the key's own rules answer first (the handler
  // validates the path before lib/groups.ts looks at the queue), and they see it decoded.
  const paused = await fetch(`${baseUrl}/queues/sms/groups/${encodeURIComponent('tenant/eu ')}/pause`, { method: 'POST' });
  expect({ status: paused.status, body: await paused.json() }, output).toMatchObject({
    status: 400,
    body: { error: { field: 'groupKey', rule: 'trailing_space' } },
  });
  const limits = await fetch(`${baseUrl}/queues/sms/groups/${encodeURIComponent('100%')}/limits`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ concurrency: 1 }),
  });
  expect(await limits.json()).toMatchObject({ error: { field: 'queue', rule: 'not_grouped' } });
  const listed = await fetch(`${baseUrl}/queues/sms/groups?limit=5`);
  expect({ status: listed.status, body: await listed.json() }).toMatchObject({ status: 400, body: { error: { field: 'queue', rule: 'not_grouped' } } });
});
