/**
 * `npm start` as a developer runs it, on free ports and its own database so a running stack is left
 * alone: the printed curl enqueues over serverless offline's HTTP API, the CLI drains through its
 * Lambda invoke endpoint, the message ends `done`, and Ctrl-C leaves nothing behind.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../dev/ports.js';
import { dropTestDatabase } from '../support/database.js';
import { runCaptured } from '../cli/helpers.js';
import { waitFor } from '../support/waitFor.js';
import { killGroup, processesWithMarker, ROOT, runNpmScript, type Script } from './helpers.js';
import { MIGRATIONS } from '../support/migrations.js';

const run = promisify(execFile);
const READY_TIMEOUT_MS = 180_000;

function baseEnv(marker: string): NodeJS.ProcessEnv {
  return { ...process.env, AQ_TEST_MARKER: marker, CI: 'true' };
}

/** Polls until no process carries the marker; answers those still there at the deadline. */
async function leftovers(marker: string, timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pids = processesWithMarker(marker) ?? [];
    if (pids.length === 0 || Date.now() > deadline) return pids;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('the whole stack', () => {
  const marker = randomUUID();
  const workFolder = join('.esbuild', `start-test-${process.pid}-${Date.now()}`);
  let database: string;
  let ports: { dataApi: number; http: number; lambda: number; websocket: number; alb: number; dashboard: number; scheduler: number };
  let script: Script;

  beforeAll(async () => {
    // aq_test_*: CI's cleanup of leftover test databases covers it. The script creates it.
    database = `aq_test_start_${randomUUID().slice(0, 8)}`;
    const [dataApi, http, lambda, websocket, alb, dashboard, scheduler] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    ports = { dataApi, http, lambda, websocket, alb, dashboard, scheduler };
    script = runNpmScript(['start'], {
      ...baseEnv(marker),
      DB_NAME: database,
      LOCAL_DATA_API_PORT: String(dataApi),
      HTTP_PORT: String(http),
      LAMBDA_PORT: String(lambda),
      WEBSOCKET_PORT: String(websocket),
      ALB_PORT: String(alb),
      DASHBOARD_PORT: String(dashboard),
      LOCAL_SCHEDULER_PORT: String(scheduler),
      // The drain's ARN in the local Scheduler's log names it.
      AWS_REGION: 'us-east-1',
      // Only the drain this test invokes runs (the schedule's first tick is a day away).
      DRAIN_SCHEDULE: 'rate(1 day)',
      ESBUILD_WORK_FOLDER: workFolder,
    });
    await script.waitFor(/Ctrl-C stops everything started here\./, READY_TIMEOUT_MS);
  }, READY_TIMEOUT_MS + 30_000);

  afterAll(async () => {
    if (script) killGroup(script.child);
    for (const pid of processesWithMarker(marker) ?? []) process.kill(pid, 'SIGKILL');
    await dropTestDatabase(database);
    await rm(join(ROOT, workFolder), { recursive: true, force: true });
  });

  it('prints the URLs, a curl that enqueues, and how to point the CLI at it', () => {
    const output = script.output();
    expect(output).toContain(`HTTP API            http://127.0.0.1:${ports.http}`);
    expect(output).toContain(`Lambda invoke       http://127.0.0.1:${ports.lambda}  (functions aurora-queue-local-<name>)`);
    expect(output).toContain(`local Data API      http://127.0.0.1:${ports.dataApi}`);
    expect(output).toMatch(/SMS provider +http:\/\/127\.0\.0\.1:\d+\/messages {2}\(fake\)/);
    expect(output).toContain(`export DATA_API_ENDPOINT=http://127.0.0.1:${ports.dataApi} DB_NAME=${database} LAMBDA_ENDPOINT=http://127.0.0.1:${ports.lambda}`);
    expect(output).toContain(`database ${database}: applied 001_queue, 002_dead_letter_index, 003_drain_activity, 004_payload_parts`);
    expect(output).toContain(`dashboard           http://127.0.0.1:${ports.dashboard}/`);
    expect(output).toContain(`Scheduler           http://127.0.0.1:${ports.scheduler}  (timed wakes: one-time schedules that invoke the drain)`);
  });

  it("serves the dashboard on DASHBOARD_PORT, on this stack's database", async () => {
    const page = await fetch(`http://127.0.0.1:${ports.dashboard}/`);
    expect(page.status).toBe(200);
    const overview = (await (await fetch(`http://127.0.0.1:${ports.dashboard}/api/overview`)).json()) as { target: string; queues: { queue: string }[] };
    expect(overview.target).toBe(`database ${database} via the local Data API at http://127.0.0.1:${ports.dataApi}`);
    expect(overview.queues.map((q) => q.queue)).toEqual(['default', 'sms', 'webhooks', 'orders']);
  });

  /** Polls the message's status over the HTTP API until it is done (the schedule is a day away). */
  async function doneViaWake(id: string): Promise<unknown> {
    let view: { status?: string } = {};
    await waitFor(
      async () => {
        view = (await (await fetch(`http://127.0.0.1:${ports.http}/messages/${id}`)).json()) as { status?: string };
        return view.status === 'done';
      },
      30_000,
      `message ${id} done`,
    );
    return view;
  }

  it('enqueues with the printed curl; the wake on enqueue delivers it through the Lambda endpoint, no schedule needed', async () => {
    const curl = /^ {2}(curl -s -X POST .*)$/m.exec(script.output())?.[1];
    expect(curl).toBeDefined();
    const { stdout } = await run('sh', ['-c', curl!], { timeout: 30_000 });
    const { id } = JSON.parse(stdout) as { id: string };

    expect(await doneViaWake(id)).toMatchObject({ id, queue: 'sms', type: 'sms.send', status: 'done', attempts: 1 });
    const env = { DATA_API_ENDPOINT: `http://127.0.0.1:${ports.dataApi}`, DB_NAME: database, LAMBDA_ENDPOINT: `http://127.0.0.1:${ports.lambda}` };
    expect(JSON.parse((await runCaptured(['status', id, '--json'], env)).stdout)).toMatchObject({ status: 'done' });
    // The CLI's drain goes through the same endpoint; the queue is empty by now.
    const drained = await runCaptured(['drain', '--json'], env);
    expect(drained.code, drained.stderr).toBe(0);
    expect(JSON.parse(drained.stdout)).toMatchObject({ dead: 0, errors: [] });
  });

  it('runs the team type of jobs/ (the README path): accepted over HTTP, dispatched, acknowledged; a bad payload is a 400 naming the field', async () => {
    const enqueue = (payload: unknown) =>
      fetch(`http://127.0.0.1:${ports.http}/queues/orders/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'order.confirm', payload }),
      });
    const accepted = await enqueue({ orderId: 'A-1001', email: 'ada@example.com', totalCents: 4250 });
    expect(accepted.status).toBe(202);
    const { id } = (await accepted.json()) as { id: string };

    const refused = await enqueue({ orderId: 'A-1002', email: 'nope', totalCents: 1 });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ error: { field: 'payload.email', message: 'payload.email: must be an e-mail address' } });

    expect(await doneViaWake(id)).toMatchObject({ id, queue: 'orders', type: 'order.confirm', status: 'done' });
  });

  it('delivers a delayed message through a timed wake: the local Scheduler invokes the drain at its time, and the schedule is gone', async () => {
    const response = await fetch(`http://127.0.0.1:${ports.http}/queues/sms/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Due past the wake-now window (30 s): the enqueue sets a timed wake instead of starting a drain.
      body: JSON.stringify({ type: 'sms.send', payload: { to: '+15551234567', body: 'later' }, delaySeconds: 35 }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    let view: { status?: string } = {};
    await waitFor(
      async () => {
        view = (await (await fetch(`http://127.0.0.1:${ports.http}/messages/${id}`)).json()) as { status?: string };
        return view.status === 'done';
      },
      90_000,
      `delayed message ${id} done`,
    );
    // The Scheduler fires within the minute of the wake's time, as AWS does (npm start: a random
    // second of it): a drain still lingering from an earlier enqueue may have delivered the message first.
    const invoked =
      /^scheduler \| aurora-queue-local\/sms invoked arn:aws:lambda:us-east-1:000000000000:function:aurora-queue-local-drain with \{"queue":"sms","wake":true,"wakeAt":"[^"]+"\}$/m;
    await waitFor(async () => invoked.test(script.output()), 75_000, 'the Scheduler invoked the drain');
    const { SchedulerClient, ListSchedulesCommand } = await import('@aws-sdk/client-scheduler');
    const scheduler = new SchedulerClient({
      endpoint: `http://127.0.0.1:${ports.scheduler}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    try {
      // A fired wake deletes itself; the run that delivered the message had nothing later to wake for.
      await waitFor(
        async () => ((await scheduler.send(new ListSchedulesCommand({ GroupName: 'aurora-queue-local' }))).Schedules ?? []).length === 0,
        10_000,
        'no schedule pending',
      );
    } finally {
      scheduler.destroy();
    }
  }, 180_000);

  it('serves the migrate function, which finds the schema applied', async () => {
    const response = await fetch(`http://127.0.0.1:${ports.lambda}/2015-03-31/functions/aurora-queue-local-migrate/invocations`, {
      method: 'POST',
      body: '{}',
    });
    expect(await response.json()).toEqual({
      applied: [],
      skipped: [...MIGRATIONS],
    });
  });

  it('stops everything it started on Ctrl-C', async () => {
    script.interrupt();
    await script.exited;
    const left = await leftovers(marker, 30_000);
    expect(left, script.output()).toEqual([]);
    expect(script.output()).toMatch(/stopped dashboard, serverless offline, local Scheduler, fake SMS provider, local Data API/);
    for (const port of Object.values(ports)) expect(await refused(port)).toBe(true);
  }, 60_000);
});

describe('when something is missing', () => {
  it('says how to start MariaDB when it is not reachable', async () => {
    const marker = randomUUID();
    const port = await freePort();
    const script = runNpmScript(['start'], { ...baseEnv(marker), DATABASE_URL: `mysql://root@127.0.0.1:${port}` });
    try {
      expect(await script.exited).toBe(1);
      expect(script.output()).toContain(`MariaDB is not running at 127.0.0.1:${port}`);
      expect(script.output()).toContain('sudo apt-get install -y mariadb-server && sudo service mariadb start');
    } finally {
      killGroup(script.child);
    }
  });

  it('names a port that is taken, and stops what it had started', async () => {
    const marker = randomUUID();
    const [dataApi, http] = await Promise.all([freePort(), freePort()]);
    const database = `aq_test_start_busy_${Date.now().toString(36)}`;
    const blocker = (await import('node:net')).createServer();
    await new Promise<void>((resolve) => blocker.listen(http, '127.0.0.1', resolve));
    const script = runNpmScript(['start'], { ...baseEnv(marker), DB_NAME: database, LOCAL_DATA_API_PORT: String(dataApi), HTTP_PORT: String(http) });
    try {
      expect(await script.exited).toBe(1);
      expect(script.output()).toContain(`port ${http} is in use; it is for the HTTP API`);
      expect(script.output()).toContain('choose another port with HTTP_PORT=<port>');
      expect(await leftovers(marker, 10_000)).toEqual([]);
      expect(await refused(dataApi)).toBe(true);
    } finally {
      killGroup(script.child);
      blocker.close();
      await dropTestDatabase(database);
    }
  });
});
