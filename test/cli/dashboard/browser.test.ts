/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) on the real stack:
 * the page loads, shows depths and a dead letter made by a real drain, redrives it after a
 * confirmation, and the message's status changes. A message shows its producer's trace id when it
 * was enqueued with a trace context. A queue with per-group limits lists its groups, a blocked one
 * marked, and a group is paused and given limits of its own from the page.
 */
import * as z from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { launchChromium, type Chromium } from '../../../dev/chromium.js';
import { createApp, type App } from '../../../lib/app.js';
import { ManualClock } from '../../../lib/clock.js';
import { defineConfig } from '../../../lib/config.js';
import { drain } from '../../../lib/drain/index.js';
import { enqueue } from '../../../lib/enqueue.js';
import { PermanentError, RetryableError } from '../../../lib/errors.js';
import { defineJobType } from '../../../lib/jobs/types.js';
import { parseTraceparent } from '../../../lib/tracing.js';
import { startDashboard, type Dashboard } from '../../../cli/dashboard/server.js';
import { useStack } from '../../support/stack.js';

const stack = useStack();

/** Markup in a payload and an error, to prove the page shows it as text. */
const MARKUP = '<img src=x onerror="document.title=\'pwned\'">';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

const partnerCall = defineJobType({
  type: 'partner.call',
  payload: z.object({ order: z.number(), note: z.string().optional() }),
  async handle(payload) {
    throw new PermanentError(`the partner answered 410 Gone for order ${payload.order} ${MARKUP}`);
  },
});
const noop = defineJobType({ type: 'noop', payload: z.unknown(), handle: async () => {} });
/** A handler with a result and progress, both holding markup. */
const receipt = defineJobType({
  type: 'receipt.send',
  payload: z.object({ to: z.string() }),
  async handle(payload, context) {
    context.progress({ step: MARKUP });
    return { sentTo: payload.to, note: MARKUP };
  },
});
/** acct-1's entries fail for an hour: its first one retries, holding the group back. */
const ledgerPost = defineJobType({
  type: 'ledger.post',
  payload: z.object({ account: z.string() }),
  async handle(payload) {
    if (payload.account === 'acct-1') throw new RetryableError('the ledger is locked', { retryAfterMs: 3_600_000 });
  },
});

const config = defineConfig({
  queues: [
    { name: 'partners', ratePerSecond: 20 },
    { name: 'emails' },
    { name: 'ledger', fifo: true, concurrency: 4, types: ['ledger.post'] },
    { name: 'tenants', groups: { concurrency: 1, fair: true } },
  ],
  jobTypes: [partnerCall, noop, ledgerPost, receipt],
});

let app: App;
let dashboard: Dashboard;
let browser: Chromium;
let page: Page;
let deadIds: string[];

beforeAll(async () => {
  app = createApp({ db: stack.newDb(), env: {}, config });
  const partnerCalls = (orders: number[]) => orders.map((order) => ({ type: 'partner.call' as const, payload: { order, note: MARKUP } }));
  // The first without a trace context, the others enqueued in a trace.
  const untraced = await enqueue(app, 'partners', partnerCalls([1]));
  const traced = await enqueue(app, 'partners', partnerCalls([2, 3]), { traceContext: parseTraceparent(`00-${TRACE_ID}-00f067aa0ba902b7-01`) });
  deadIds = [...untraced, ...traced].map((answer) => answer.id);
  const summary = await drain(app, { queue: 'partners', remainingTimeMs: () => 30_000 });
  expect(summary).toMatchObject({ dead: 3 });
  await enqueue(app, 'emails', [
    { type: 'noop', payload: 1 },
    { type: 'noop', payload: 2 },
  ]);
  await enqueue(
    app,
    'ledger',
    ['acct-1', 'acct-1', 'acct-2'].map((account) => ({ type: 'ledger.post', payload: { account }, groupKey: account })),
  );
  expect(await drain(app, { queue: 'ledger', remainingTimeMs: () => 30_000 })).toMatchObject({ retried: 1, done: 1 });
  // tenants: acct/eu-1 has one of its three in flight, at its concurrency of 1: blocked.
  await enqueue(
    app,
    'tenants',
    ['acct/eu-1', 'acct/eu-1', 'acct/eu-1', 'acct-2'].map((account) => ({ type: 'noop', payload: account, groupKey: account })),
  );
  await stack.sql.query(
    "UPDATE queue_messages SET status = 'running', lease_token = 'lease-page', available_at = UTC_TIMESTAMP(3) + INTERVAL 1 HOUR WHERE queue = 'tenants' AND group_key = 'acct/eu-1' ORDER BY id LIMIT 1",
  );

  dashboard = await startDashboard({ app, port: 0, target: `database ${stack.database} (test)`, refreshSeconds: 1, log: () => {} });
  browser = await launchChromium();
  page = await browser.context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
});

const row = (queue: string) => page.locator(`#queues tr[data-queue="${queue}"]`);
const deadRow = (id: string) => page.locator(`#dead-letters tr[data-id="${id}"]`);

async function statusOf(id: string): Promise<string> {
  const [[found]] = (await stack.sql.query('SELECT status FROM queue_messages WHERE id = ?', [id])) as any;
  return found.status;
}

describe('the dashboard page', () => {
  it("loads and shows every queue's depth, the dead letters and the last hour", async () => {
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => message.type() === 'error' && errors.push(message.text()));
    await page.goto(dashboard.url);
    await expect.poll(() => row('emails').locator('td.waiting').textContent()).toBe('2');
    expect(await row('partners').locator('td.dead').textContent()).toBe('3');
    expect(await row('partners').locator('td.limits').textContent()).toContain('20/s queue-wide');
    expect(await row('partners').locator('td.groups').textContent()).toBe('–');
    // The FIFO queue: acct-1 is blocked behind its retrying first entry, acct-2 is done and gone.
    expect(await row('ledger').locator('td.groups').textContent()).toBe('1 · 0 running · 1 blocked');
    expect(await row('ledger').locator('td.groups .blocked').getAttribute('class')).toContain('alert');
    expect(await row('ledger').locator('td.limits').textContent()).toMatch(
      /^FIFO · carries ledger\.post · batch 100 · 4 at once queue-wide \(0 in use\) · no rate limit · per run 50 at once · /,
    );
    expect(await row('partners').locator('svg.chart rect.dead').count()).toBeGreaterThan(0);
    expect(await page.locator('#target').textContent()).toContain(stack.database);

    // The first queue with dead letters is shown, oldest first, with type, attempts and last error.
    await expect.poll(() => page.locator('#dead-letters tbody tr').count()).toBe(3);
    expect(await page.locator('#dead-title').textContent()).toBe('Dead letters of partners (3)');
    const first = deadRow(deadIds[0]!);
    expect(await first.locator('td.type').textContent()).toBe('partner.call');
    expect(await first.locator('td.error').textContent()).toContain('the partner answered 410 Gone for order 1');
    expect(errors).toEqual([]);
  });

  it('shows the trace id of a dead letter enqueued with a trace context', async () => {
    await deadRow(deadIds[1]!).locator('td.id button').click();
    await expect.poll(() => page.locator('#message-trace').textContent()).toBe(TRACE_ID);
    const fields = await page
      .locator('#message-fields')
      .evaluate((dl) => [...dl.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(fields).toContainEqual(['trace', TRACE_ID]);
  });

  it('shows payloads and errors as text, never as markup', async () => {
    await deadRow(deadIds[0]!).locator('td.id button').click();
    // The page showed another dead letter, with the same markup: wait for this one.
    await expect.poll(() => page.locator('#message-fields').textContent()).toContain(deadIds[0]!);
    await expect.poll(() => page.locator('#message-payload').textContent()).toContain(MARKUP.replace(/"/g, '\\"'));
    // Enqueued without a trace context: no trace row, not an empty one.
    expect(await page.locator('#message-fields dt').allTextContents()).not.toContain('trace');
    expect(await page.locator('#message-trace').count()).toBe(0);
    expect(await page.locator('#message-error').textContent()).toContain(MARKUP);
    expect(await page.locator('#message-status').textContent()).toBe('dead');
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.title()).toBe('aurora-queue');
  });

  it('redrives a selected dead letter after a confirmation that says how many, and its status changes', async () => {
    await deadRow(deadIds[0]!).locator('input[type=checkbox]').check();
    await page.locator('#redrive-selected').click();
    const dialog = page.locator('dialog#confirm');
    expect(await dialog.isVisible()).toBe(true);
    expect(await page.locator('#confirm-text').textContent()).toBe('Redrive 1 dead letter of partners? They go back to waiting with their attempts reset.');

    // Cancel changes nothing.
    await page.locator('#confirm-cancel').click();
    expect(await statusOf(deadIds[0]!)).toBe('dead');

    await page.locator('#redrive-selected').click();
    expect(await page.locator('#confirm-ok').textContent()).toBe('Redrive 1');
    await page.locator('#confirm-ok').click();
    await expect.poll(() => page.locator('#notice').textContent()).toBe('Redrove 1 dead letter of partners.');
    expect(await statusOf(deadIds[0]!)).toBe('waiting');

    // The message looked up before shows its new status; the list and the count follow.
    await expect.poll(() => page.locator('#message-status').textContent()).toBe('waiting');
    await expect.poll(() => page.locator('#dead-letters tbody tr').count()).toBe(2);
    expect(await row('partners').locator('td.waiting').textContent()).toBe('1');
    expect(await row('partners').locator('td.dead').textContent()).toBe('2');
  });

  it('says when a redrive left a dead letter whose type has no handler', async () => {
    const [[{ type }]] = (await stack.sql.query('SELECT type FROM queue_messages WHERE id = ?', [deadIds[1]])) as any;
    await stack.sql.query("UPDATE queue_messages SET type = 'retired.type' WHERE id = ?", [deadIds[1]]);
    try {
      await deadRow(deadIds[1]!).locator('input[type=checkbox]').check();
      await page.locator('#redrive-selected').click();
      await page.locator('#confirm-ok').click();
      await expect
        .poll(() => page.locator('#notice').textContent())
        .toBe('Redrove 0 dead letters of partners. 1 left dead: its type is not carried by partners or without a handler.');
      expect(await statusOf(deadIds[1]!)).toBe('dead');
    } finally {
      await stack.sql.query('UPDATE queue_messages SET type = ? WHERE id = ?', [type, deadIds[1]]);
    }
  });

  it('looks a message up by dedup key in a queue', async () => {
    const [answer] = await enqueue(app, 'emails', [{ type: 'noop', payload: { to: 'ada@example.com' }, dedupKey: 'welcome ada' }]);
    await page.locator('#lookup-key').fill('welcome ada');
    await page.locator('#lookup-queue').selectOption('emails');
    await page.locator('#lookup button[type=submit]').click();
    await expect.poll(() => page.locator('#message-fields').textContent()).toContain(answer!.id);
    expect(await page.locator('#message-payload').textContent()).toContain('"to": "ada@example.com"');

    await page.locator('#lookup-key').fill('nobody');
    await page.locator('#lookup button[type=submit]').click();
    await expect.poll(() => page.locator('#message-fields').textContent()).toContain('no message with dedup key "nobody" in queue emails');
  });

  it('pauses and resumes a queue', async () => {
    await row('emails').locator('td.state button').click();
    await expect.poll(() => row('emails').locator('td.state .badge').textContent()).toBe('paused');
    const [[state]] = (await stack.sql.query("SELECT paused_at FROM queue_state WHERE queue = 'emails'")) as any;
    expect(state.paused_at).not.toBeNull();
    await row('emails').locator('td.state button').click();
    await expect.poll(() => row('emails').locator('td.state .badge').textContent()).toBe('active');
  });

  it("lists a grouped queue's groups with the blocked one marked, pauses a group and sets a group's limits", async () => {
    const panel = page.locator('.group-panel[data-queue="tenants"]');
    const group = (key: string) => panel.locator(`tr[data-group-key="${key}"]`);
    await expect.poll(() => group('acct/eu-1').locator('td.state').textContent()).toBe('blocked');
    expect(await group('acct/eu-1').locator('td').allTextContents()).toEqual(['3', '1', '1', 'none', 'blocked', 'PauseLimits…']);
    expect(await group('acct-2').locator('td.state').textContent()).toBe('idle');
    expect(await panel.locator('h3').textContent()).toBe('tenants per group 1 at once, fair share');
    expect(await row('tenants').locator('td.limits').textContent()).toContain('per group 1 at once, fair share');
    expect(await page.locator('.group-panel').count()).toBe(1);

    await group('acct-2').locator('button.pause').click();
    await expect.poll(() => group('acct-2').locator('td.state').textContent()).toBe('paused');
    expect(await page.locator('#notice').textContent()).toBe(
      'Paused group acct-2 of tenants: drains start none of its messages until it is resumed; its other groups run.',
    );
    expect(await group('acct-2').locator('button.pause').textContent()).toBe('Resume');
    const [[paused]] = (await stack.sql.query("SELECT paused FROM queue_groups WHERE queue = 'tenants' AND group_key = 'acct-2'")) as any;
    expect(paused.paused).toBe(1);

    // Limits: the queue's show as placeholders; a refusal keeps the dialog open and names the field.
    await group('acct/eu-1').locator('button.limits').click();
    expect(await page.locator('#group-limits').isVisible()).toBe(true);
    expect(await page.locator('#group-limits-title').textContent()).toBe('Limits of group acct/eu-1 of tenants');
    expect(await page.locator('#group-concurrency').getAttribute('placeholder')).toBe("queue's: 1");
    expect(await page.locator('#group-rate').getAttribute('placeholder')).toBe('none');
    await page.locator('#group-concurrency').fill('0');
    await page.locator('#group-limits-save').click();
    await expect.poll(() => page.locator('#group-limits-problem').textContent()).toContain('at least 1');
    expect(await page.locator('#group-limits').isVisible()).toBe(true);
    await page.locator('#group-concurrency').fill('3');
    await page.locator('#group-rate').fill('2.5');
    await page.locator('#group-limits-save').click();
    await expect.poll(() => group('acct/eu-1').locator('td.concurrency').textContent()).toBe('3');
    expect(await page.locator('#group-limits').isVisible()).toBe(false);
    expect(await group('acct/eu-1').locator('td.rate').textContent()).toBe('2.5/s');
    expect(await group('acct/eu-1').locator('td.state').textContent()).toBe('running');
    const [[own]] = (await stack.sql.query("SELECT concurrency, rate_per_second FROM queue_groups WHERE queue = 'tenants' AND group_key = 'acct/eu-1'")) as any;
    expect([own.concurrency, own.rate_per_second]).toEqual([3, 2.5]);

    // Emptied, the concurrency is the queue's again.
    await group('acct/eu-1').locator('button.limits').click();
    expect(await page.locator('#group-concurrency').inputValue()).toBe('3');
    await page.locator('#group-concurrency').fill('');
    await page.locator('#group-limits-save').click();
    await expect.poll(() => group('acct/eu-1').locator('td.state').textContent()).toBe('blocked');
    expect(await group('acct/eu-1').locator('td.concurrency').textContent()).toBe('1');

    await group('acct-2').locator('button.pause').click();
    await expect.poll(() => group('acct-2').locator('td.state').textContent()).toBe('idle');
  });

  it('purges all of a queue after saying how many', async () => {
    await page.locator('#purge-all').click();
    expect(await page.locator('#confirm-text').textContent()).toBe('Purge all 2 dead letters of partners? They are deleted for good.');
    await page.locator('#confirm-ok').click();
    await expect.poll(() => page.locator('#notice').textContent()).toBe('Purged 2 dead letters of partners.');
    const [[left]] = (await stack.sql.query("SELECT COUNT(*) AS n FROM queue_messages WHERE status = 'dead'")) as any;
    expect(left.n).toBe(0);
    await expect.poll(() => page.locator('#dead-empty').isVisible()).toBe(true);
  });

  it('cancels a waiting message at once, and asks the drain of a running one to stop it, each after a confirmation', async () => {
    const [waiting, running] = await enqueue(app, 'emails', [
      { type: 'noop', payload: 'to cancel' },
      { type: 'noop', payload: 'running' },
    ]);
    await stack.sql.query(`UPDATE queue_messages SET status = 'running', lease_token = 'lease-page' WHERE id = ?`, [running!.id]);
    const lookUp = async (id: string) => {
      await page.locator('#lookup-key').fill(id);
      await page.locator('#lookup button[type=submit]').click();
      await expect.poll(() => page.locator('#message-fields').textContent()).toContain(id);
    };

    await lookUp(waiting!.id);
    await page.locator('#message-cancel').click();
    expect(await page.locator('#confirm-text').textContent()).toBe(`Cancel message ${waiting!.id}? It is waiting: it ends cancelled and never runs.`);
    await page.locator('#confirm-ok').click();
    await expect.poll(() => page.locator('#notice').textContent()).toBe(`Cancelled ${waiting!.id}.`);
    await expect.poll(() => page.locator('#message-status').textContent()).toBe('cancelled');
    expect(await page.locator('#message-cancel').isVisible()).toBe(false);
    expect(await statusOf(waiting!.id)).toBe('cancelled');

    await lookUp(running!.id);
    await page.locator('#message-cancel').click();
    expect(await page.locator('#confirm-text').textContent()).toContain('It is running: its drain stops its handler within about a second');
    await page.locator('#confirm-ok').click();
    await expect.poll(() => page.locator('#notice').textContent()).toBe(`Cancel requested: ${running!.id} is running; its drain stops it.`);
    const [[request]] = (await stack.sql.query('SELECT lease_token FROM queue_cancel_requests WHERE message_id = ?', [running!.id])) as any;
    expect(request.lease_token).toBe('lease-page');
  });
});

describe('the recurring messages', () => {
  it("lists the config's entries with their next slot, and looks up the last slot's message", async () => {
    const clock = new ManualClock('2026-03-01T12:00:00.000Z');
    const withRecurring = createApp({
      db: stack.newDb(),
      env: {},
      clock,
      config: defineConfig({
        queues: [{ name: 'reports' }],
        jobTypes: [noop],
        recurring: [
          {
            name: 'nightly-report',
            schedule: 'cron(30 2 * * ? *)',
            timezone: 'Europe/Paris',
            queue: 'reports',
            type: 'noop',
            payload: { report: MARKUP },
            catchUp: 2,
          },
        ],
      }),
    });
    // The last slot's message, as a drain run stores it: with the slot's dedup key.
    await enqueue(withRecurring, 'reports', [{ type: 'noop', payload: { report: MARKUP }, dedupKey: 'recurring:nightly-report:2026-03-01T01:30:00.000Z' }]);
    const other = await startDashboard({ app: withRecurring, port: 0, target: 'recurring', refreshSeconds: 1, log: () => {} });
    const recurringPage = await browser.context.newPage();
    try {
      await recurringPage.goto(other.url);
      const entry = recurringPage.locator('#recurring tr[data-name="nightly-report"]');
      await expect.poll(() => entry.locator('td.next-slot').textContent()).toBe('2026-03-02T01:30:00.000Z (in 13 h 30 min)');
      expect(await recurringPage.locator('#recurring-section').isVisible()).toBe(true);
      expect(await entry.locator('td').allTextContents()).toEqual([
        'cron(30 2 * * ? *)',
        'Europe/Paris',
        'reports',
        'noop',
        '2',
        '2026-03-01T01:30:00.000Z (10 h 30 min ago)',
        '2026-03-02T01:30:00.000Z (in 13 h 30 min)',
      ]);
      await entry.locator('td.last-slot button').click();
      await expect.poll(() => recurringPage.locator('#message-fields').textContent()).toContain('recurring:nightly-report:2026-03-01T01:30:00.000Z');
      expect(await recurringPage.locator('#message-payload').textContent()).toContain('"report"');
      expect(await recurringPage.locator('img').count()).toBe(0);
    } finally {
      await recurringPage.close();
      await other.close();
    }
    // Without entries, the section stays hidden.
    expect(await page.locator('#recurring-section').isVisible()).toBe(false);
  });

  it("shows a done message's result and progress, as text", async () => {
    const [answer, plain] = await enqueue(app, 'emails', [
      { type: 'receipt.send', payload: { to: 'ada@example.com' }, dedupKey: 'receipt ada' },
      { type: 'noop', payload: 3 },
    ]);
    await drain(app, { queue: 'emails', remainingTimeMs: () => 30_000 });
    await expect.poll(async () => (await stack.sql.query('SELECT progress FROM queue_message_outputs WHERE message_id = ?', [answer!.id]))[0]).toHaveLength(1);
    await page.locator('#lookup-key').fill(answer!.id);
    await page.locator('#lookup button[type=submit]').click();
    await expect.poll(() => page.locator('#message-status').textContent()).toBe('done');
    expect(JSON.parse((await page.locator('#message-result').textContent())!)).toEqual({ sentTo: 'ada@example.com', note: MARKUP });
    expect(await page.locator('#message-progress').textContent()).toMatch(/^\{"step":".*"\} at \d{4}-\d\d-\d\dT/);
    expect(await page.locator('#message-fields dt').allTextContents()).toContain('progress');
    expect(await page.locator('img').count()).toBe(0);
    // A message with no result shows none.
    await page.locator('#lookup-key').fill(plain!.id);
    await page.locator('#lookup button[type=submit]').click();
    await expect.poll(() => page.locator('#message-result').textContent()).toBe('–');
    expect(await page.locator('#message-progress').count()).toBe(0);
  });
});
