/**
 * `npm run screenshots`: the dashboard's main views as PNGs in docs/, for the README. A throwaway
 * database on the local MariaDB is given an hour of history by real enqueues and drains run
 * minute by minute on a clock that starts an hour ago (job types named like the shipped ones,
 * whose outcomes are drawn from each message's id: most done, some retried, a few dead), then the
 * dashboard is opened in Debian's Chromium.
 *
 * Environment (optional): DATABASE_URL (mysql://root@127.0.0.1:3306).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import * as z from 'zod';
import { startDashboard } from '../cli/dashboard/server.js';
import { CliError } from '../cli/errors.js';
import { launchChromium } from '../dev/chromium.js';
import { startLocalDataApi } from '../dev/data-api/server.js';
import { DEFAULT_DATABASE_URL, ensureMariaDb } from '../dev/mariadb.js';
import { createApp, type App } from '../lib/app.js';
import { ManualClock } from '../lib/clock.js';
import { defineConfig } from '../lib/config.js';
import { createDataApiClient, createDb, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../lib/db/index.js';
import { drain } from '../lib/drain/index.js';
import { enqueue } from '../lib/enqueue.js';
import { PermanentError, RetryableError } from '../lib/errors.js';
import { defineJobType, type JobContext } from '../lib/jobs/types.js';
import { migrate } from '../lib/migrate.js';
import { pauseQueue } from '../lib/operations.js';
import { createDatabase, dropDatabase } from '../lib/sql/databases.js';
import config from '../queue.config.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const DOCS = fileURLToPath(new URL('../docs/', import.meta.url));
const MINUTE_MS = 60_000;
const log = (line: string) => process.stdout.write(`${line}\n`);

/** 0 ≤ n < 1, fixed by the message id: which outcome its attempt has. */
function draw(context: JobContext): number {
  return createHash('sha256').update(`${context.id}:${context.attempt}`).digest().readUInt32BE(0) / 2 ** 32;
}

const smsSend = defineJobType({
  type: 'sms.send',
  payload: z.object({ to: z.string(), body: z.string() }),
  async handle(payload, context) {
    const n = draw(context);
    if (n < 0.04) throw new PermanentError(`SMS provider answered 400: ${payload.to} is not a mobile number`);
    if (n < 0.14) throw new RetryableError('SMS provider answered 429 Too Many Requests', { retryAfterMs: 30_000 });
  },
});

const webhook = defineJobType({
  type: 'webhook',
  payload: z.object({ url: z.string(), body: z.unknown() }),
  async handle(payload, context) {
    const n = draw(context);
    if (n < 0.05) throw new PermanentError(`POST ${payload.url} answered 410 Gone: <html><body>endpoint removed</body></html>`);
    if (n < 0.25) throw new Error(`POST ${payload.url}: connect ETIMEDOUT after 10000 ms`);
  },
});

const orderConfirm = defineJobType({
  type: 'order.confirm',
  payload: z.object({ orderId: z.string(), email: z.string(), totalCents: z.number() }),
  async handle(payload, context) {
    if (draw(context) < 0.02) throw new PermanentError(`order ${payload.orderId} is not in the order service (404)`);
  },
});

const screenshotConfig = defineConfig({ queues: config.queues, jobTypes: [smsSend, webhook, orderConfirm] });

/** An afternoon's traffic: a slow wave, and a flash sale on orders in the last quarter hour. */
function messagesFor(queue: string, minute: number, i: number) {
  const wave = 1 + Math.sin(minute / 7);
  switch (queue) {
    case 'sms':
      return Array.from({ length: Math.round(8 + 10 * wave) }, (_, k) => ({
        type: 'sms.send',
        payload: { to: `+1555${String(100_0000 + i * 97 + k).slice(-7)}`, body: 'Your code is 4821' },
      }));
    case 'webhooks':
      return Array.from({ length: Math.round(3 + 4 * wave) }, (_, k) => ({
        type: 'webhook',
        payload: { url: 'https://hooks.partner.example/orders', body: { order: 4000 + i * 11 + k } },
      }));
    case 'orders':
      return Array.from({ length: minute > 44 ? 60 : Math.round(4 + 3 * wave) }, (_, k) => ({
        type: 'order.confirm',
        payload: { orderId: `A-${10_000 + i * 61 + k}`, email: `buyer${k}@example.com`, totalCents: 1_000 + k * 250 },
      }));
    default:
      return minute % 9 === 0 ? [{ type: 'order.confirm', payload: { orderId: `B-${i}`, email: 'ops@example.com', totalCents: 0 } }] : [];
  }
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL;
  const mariadb = await ensureMariaDb({ databaseUrl, log });
  const dataApi = await startLocalDataApi({ host: '127.0.0.1', port: 0, databaseUrl });
  const client = createDataApiClient({ endpoint: dataApi.url });
  const database = `aq_screens_${randomBytes(4).toString('hex')}`;
  const db = (name: string | undefined) =>
    createDb({ endpoint: dataApi.url, resourceArn: LOCAL_RESOURCE_ARN, secretArn: LOCAL_SECRET_ARN, database: name, client });
  let closeBrowser: (() => Promise<void>) | undefined;
  let closeDashboard: (() => Promise<void>) | undefined;
  try {
    await createDatabase(db(undefined), database);
    await migrate(db(database));

    const now = Date.now();
    const clock = new ManualClock(now - 60 * MINUTE_MS);
    // Untyped (App): the messages below are built by queue, not checked type by type.
    const app: App = createApp({ config: screenshotConfig, env: {}, db: db(database), clock });
    log('making an hour of history, a minute at a time');
    for (let minute = 0; minute < 60; minute++) {
      clock.set(now - (60 - minute) * MINUTE_MS + 5_000);
      for (const [i, queue] of [...app.queues.keys()].entries()) {
        const messages = messagesFor(queue, minute, minute * 10 + i);
        if (messages.length > 0) await enqueue(app, queue, messages);
      }
      clock.advance(20_000);
      // Rate limits wait on the clock: a wait moves it on instead of sleeping.
      await drain(app, { remainingTimeMs: () => 30_000, sleep: async (ms) => void clock.advance(ms) });
    }
    // The last minutes: a backlog on orders the drain has not reached, and webhooks paused.
    clock.set(now - 4 * MINUTE_MS);
    await enqueue(app, 'orders', messagesFor('orders', 59, 9_999).concat(messagesFor('orders', 59, 9_998)));
    clock.set(now);
    await pauseQueue(app, 'webhooks');

    // Named as `npm start` would show it, so the picture does not change with the throwaway database.
    const dashboard = await startDashboard({ app, port: 0, target: 'database aurora_queue via the local Data API at http://127.0.0.1:8087' });
    closeDashboard = () => dashboard.close();
    const browser = await launchChromium({ viewport: { width: 1280, height: 820 } });
    closeBrowser = () => browser.close();
    const page = await browser.context.newPage();
    await page.goto(`${dashboard.url}#queue=sms`);
    await page.locator('#dead-letters tbody tr').first().waitFor();
    // The refresh time is the machine's own; hide it, so screenshots differ only when the page does.
    // (No DOM types here: the parameter says what the page function uses of the element.)
    await page.locator('#refreshed').evaluate((node: { style: { visibility: string } }) => (node.style.visibility = 'hidden'));

    await mkdir(DOCS, { recursive: true });
    await page.screenshot({ path: `${DOCS}dashboard-overview.png`, clip: { x: 0, y: 0, width: 1280, height: 560 } });
    log('wrote docs/dashboard-overview.png');

    await page.locator('#dead-letters tbody tr input[type=checkbox]').nth(0).check();
    await page.locator('#dead-letters tbody tr input[type=checkbox]').nth(1).check();
    await page.locator('#redrive-selected').click();
    await page.locator('dialog#confirm').waitFor();
    await page.screenshot({ path: `${DOCS}dashboard-redrive.png`, clip: { x: 0, y: 330, width: 1280, height: 200 } });
    log('wrote docs/dashboard-redrive.png');
    await page.locator('#confirm-cancel').click();

    await page.locator('#dead-letters tbody tr td.id button').first().click();
    await page.locator('#message-status').waitFor();
    await page.locator('section:has(#lookup-title)').screenshot({ path: `${DOCS}dashboard-message.png` });
    log('wrote docs/dashboard-message.png');
  } finally {
    await closeBrowser?.();
    await closeDashboard?.();
    await dropDatabase(db(undefined), database).catch(() => {});
    client.destroy();
    await dataApi.close();
    await mariadb.started?.stop({ signal: 'SIGTERM', graceMs: 30_000 });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `npm run screenshots: ${error instanceof CliError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
