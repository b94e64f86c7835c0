import { createServer } from 'node:net';
import { expect, it } from 'vitest';
import { runCli } from '../../../cli/main.js';
import { freePort } from '../../../dev/ports.js';
import { configFor } from '../../support/config.js';
import { useStack } from '../../support/stack.js';
import { runCaptured, stackEnv } from '../helpers.js';

const stack = useStack();

/** Runs `dashboard` until the test aborts it, as the bin's first Ctrl-C does. */
function startCommand(args: readonly string[], env: NodeJS.ProcessEnv) {
  const controller = new AbortController();
  let stdout = '';
  let stderr = '';
  let announced!: (text: string) => void;
  const started = new Promise<string>((resolve) => (announced = resolve));
  const exited = runCli(['dashboard', ...args], {
    config: configFor(env),
    env,
    stdout: { write: (text: string) => announced((stdout += text)) },
    stderr: { write: (text: string) => (stderr += text) },
    interruptSignal: () => controller.signal,
  });
  return { started, exited, stop: () => controller.abort(), output: () => ({ stdout, stderr }) };
}

it('serves the dashboard on 127.0.0.1 against the target, until interrupted', async () => {
  const port = await freePort();
  const command = startCommand(['--port', String(port)], stackEnv(stack));
  expect(await command.started).toBe(
    `dashboard on http://127.0.0.1:${port}/ (database ${stack.database} via the local Data API at ${stack.endpoint}); Ctrl-C stops it\n`,
  );
  const overview = (await (await fetch(`http://127.0.0.1:${port}/api/overview`)).json()) as any;
  expect(overview.target).toBe(`database ${stack.database} via the local Data API at ${stack.endpoint}`);
  expect(overview.queues.map((q: { queue: string }) => q.queue)).toEqual(['default', 'sms', 'webhooks', 'orders']);
  command.stop();
  expect(await command.exited).toBe(0);
  await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
});

it('says where it listens with --json', async () => {
  const command = startCommand(['--port', '0', '--json'], stackEnv(stack));
  const answer = JSON.parse(await command.started);
  expect(answer).toEqual({ url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/$/), target: expect.stringContaining(stack.database) });
  command.stop();
  expect(await command.exited).toBe(0);
});

it('refuses a port in use, a bad port and an unreachable target, before serving', async () => {
  const busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const port = (busy.address() as { port: number }).port;
  try {
    expect(await runCaptured(['dashboard', '--port', String(port)], stackEnv(stack))).toMatchObject({
      code: 1,
      stderr: `aurora-queue dashboard: port ${port} is in use on 127.0.0.1; choose another with --port <n>\n`,
    });
  } finally {
    busy.close();
  }
  expect(await runCaptured(['dashboard', '--port', '70000'], stackEnv(stack))).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('--port must be a whole number from 0 to 65535'),
  });
  const down = await runCaptured(['dashboard', '--port', '0'], { DATA_API_ENDPOINT: `http://127.0.0.1:${await freePort()}` });
  expect(down).toMatchObject({ code: 1, stderr: expect.stringContaining('cannot reach database aurora_queue via the local Data API') });
});
