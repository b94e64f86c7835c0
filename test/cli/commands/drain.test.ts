import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDrainHandler } from '../../../handlers/drain.js';
import { createApp, type App } from '../../../lib/app.js';
import { freePort } from '../../../dev/ports.js';
import { startFakeSmsProvider, type FakeSmsProvider } from '../../../dev/fakeSmsProvider.js';
import { enqueue } from '../../../lib/enqueue.js';
import { configFor } from '../../support/config.js';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';

const stack = useStack();
let provider: FakeSmsProvider;
let app: App;

beforeAll(async () => {
  provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0 });
  app = createApp({ db: stack.db, env: {}, config: configFor({ SMS_PROVIDER_URL: provider.url }) });
});
afterEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
});
afterAll(async () => {
  await provider?.close();
});

async function enqueueTexts(count: number): Promise<void> {
  await enqueue(
    app,
    'sms',
    Array.from({ length: count }, (_, i) => ({ type: 'sms.send', payload: { to: `+1555000${1000 + i}`, body: 'x' } })),
  );
}

async function countDone(): Promise<number> {
  const [[row]] = (await stack.sql.query("SELECT COUNT(*) AS n FROM queue_messages WHERE status = 'done'")) as any[];
  return Number(row.n);
}

describe('--in-process', () => {
  it('exits non-zero naming the queue and the numbers when LEASE_SECONDS is too short even for heartbeats', async () => {
    const run = await runCaptured(['drain', '--in-process', '--queue', 'sms'], stackEnv(stack, { LEASE_SECONDS: '10' }));
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('queue "default": leaseSeconds 10 is too short: it must fit what heartbeats need');
    expect(run.stderr).toContain('= 12.5 s');
  });

  it('exits non-zero, draining nothing, when --timeout cannot fit one handler, and drains with the time it names', async () => {
    await enqueueTexts(1);
    const env = stackEnv(stack, { SMS_PROVIDER_URL: provider.url });
    // The built-in types time out after 10 s: with the 5 s margin, a 12 s run can never start one.
    const short = await runCaptured(['drain', '--in-process', '--queue', 'sms', '--timeout', '12'], env);
    expect(short.code).toBe(1);
    expect(short.stdout).toMatch(/^sms +0 +0 +0 +0 +0 +0 +0 +0 +0 +time$/m);
    expect(short.stderr).toContain(
      'sms: not drained: the run has 12 s, too little for its longest handler (webhook: timeout 10 s + margin 5 s + claim 2 s = 17 s)',
    );
    expect(await countDone()).toBe(0);

    const enough = await runCaptured(['drain', '--in-process', '--queue', 'sms', '--timeout', '17'], env);
    expect(enough).toMatchObject({ code: 0, stderr: '' });
    expect(await countDone()).toBe(1);
  });

  it('drains with this environment and prints the run as a table', async () => {
    await enqueueTexts(5);
    const run = await runCaptured(['drain', '--in-process', '--queue', 'sms'], stackEnv(stack, { SMS_PROVIDER_URL: provider.url }));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^queue +claimed +done +retried +dead +cancelled +released +lost leases +unsettled +deleted +stopped because$/);
    expect(lines[2]).toMatch(/^sms +5 +5 +0 +0 +0 +0 +0 +0 +0 +\S+$/);
    expect(lines[3]).toMatch(/^drained in \d+ ms with \d+ Data API calls$/);
    expect(await countDone()).toBe(5);
  });

  it('answers the summary with --json and honours --max-messages', async () => {
    await enqueueTexts(5);
    const summary = json(await runCaptured(['drain', '--in-process', '--max-messages', '2', '--json'], stackEnv(stack, { SMS_PROVIDER_URL: provider.url })));
    expect(summary).toMatchObject({ claimed: 2, done: 2, errors: [] });
    expect(summary.queues.map((q: { queue: string }) => q.queue)).toEqual(['default', 'sms', 'webhooks', 'orders']);
  });

  it('refuses Lambda options and an unknown queue', async () => {
    expect(await runCaptured(['drain', '--in-process', '--function', 'x'], stackEnv(stack))).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--in-process runs no function'),
    });
    expect(await runCaptured(['drain', '--in-process', '--queue', 'nope'], stackEnv(stack))).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('queue "nope" is not declared'),
    });
  });
});

/**
 * AWS Lambda's Invoke API cannot run here, so this stands in for it (the start test drives the real
 * serverless offline endpoint): it runs the real drain handler and answers as Lambda does.
 */
describe('through the Lambda Invoke API', () => {
  let lambda: Server;
  let endpoint: string;
  const invoked: { functionName: string; event: unknown }[] = [];

  beforeAll(async () => {
    const handler = createDrainHandler(() => app, { log: { info: () => {}, warn: () => {}, error: () => {} }, publishMetrics: () => {} });
    lambda = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const functionName = decodeURIComponent(/^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(request.url ?? '')?.[1] ?? '');
        const event: unknown = JSON.parse(Buffer.concat(chunks).toString() || 'null');
        invoked.push({ functionName, event });
        if (!functionName.endsWith('-drain') && functionName !== 'custom-drainer') {
          response.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
          response.end(JSON.stringify({ Type: 'User', message: `Function not found: ${functionName}` }));
          return;
        }
        handler(event, { getRemainingTimeInMillis: () => 30_000 }).then(
          (summary) => {
            response.writeHead(200, { 'content-type': 'application/json' });
            response.end(JSON.stringify(summary));
          },
          (error: Error) => {
            response.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
            response.end(JSON.stringify({ errorType: error.name, errorMessage: error.message }));
          },
        );
      });
    });
    await new Promise<void>((resolve) => lambda.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(lambda.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => lambda?.close(resolve));
  });

  it('invokes aurora-queue-local-drain with the queue and limit, and prints its summary', async () => {
    await enqueueTexts(3);
    invoked.length = 0;
    const run = await runCaptured(['drain', '--queue', 'sms', '--max-messages', '10'], { LAMBDA_ENDPOINT: endpoint });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(invoked).toEqual([{ functionName: 'aurora-queue-local-drain', event: { queue: 'sms', maxMessages: 10 } }]);
    expect(run.stdout).toMatch(/^sms +3 +3 +0 +0 /m);
    expect(await countDone()).toBe(3);
  });

  it('names the function by --function, DRAIN_FUNCTION_NAME or --stage', async () => {
    invoked.length = 0;
    expect(json(await runCaptured(['drain', '--function', 'custom-drainer', '--json'], { LAMBDA_ENDPOINT: endpoint }))).toMatchObject({ claimed: 0 });
    expect((await runCaptured(['drain'], { LAMBDA_ENDPOINT: endpoint, DRAIN_FUNCTION_NAME: 'custom-drainer' })).code).toBe(0);
    expect((await runCaptured(['drain', '--stage', 'prod'], { LAMBDA_ENDPOINT: endpoint })).code).toBe(0);
    expect(invoked.map((call) => call.functionName)).toEqual(['custom-drainer', 'custom-drainer', 'aurora-queue-prod-drain']);
    expect(invoked[0]!.event).toEqual({});
  });

  it("reports the function's error and an unknown function", async () => {
    const failed = await runCaptured(['drain', '--queue', 'nope'], { LAMBDA_ENDPOINT: endpoint });
    expect(failed).toMatchObject({ code: 1, stdout: '' });
    expect(failed.stderr).toMatch(/^aurora-queue drain: drain function aurora-queue-local-drain failed \(Unhandled\): queue "nope" is not declared/);

    const missing = await runCaptured(['drain', '--function', 'nothing-here'], { LAMBDA_ENDPOINT: endpoint });
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining(`no function nothing-here at ${endpoint}`) });
  });

  it('says when serverless offline is not running', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const run = await runCaptured(['drain'], { LAMBDA_ENDPOINT: closed });
    expect(run).toMatchObject({
      code: 1,
      stderr: `aurora-queue drain: cannot reach serverless offline's Lambda endpoint ${closed}: is \`npm start\` running? (or drain with --in-process)\n`,
    });
    expect(await runCaptured(['drain', '--timeout', '5'], { LAMBDA_ENDPOINT: closed })).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('--timeout is for --in-process'),
    });
  });
});
