/**
 * Your queues and job types. Every entry point (the Lambda handlers, the CLI, `npm start`, the
 * demo and the bench) loads this file. A queue's `concurrency` and `ratePerSecond` are queue-wide:
 * they hold across every drain run at once (README: Limits). Limits not given here come from the
 * drain-wide defaults (serverless.yml parameters → DRAIN_BATCH_SIZE, DRAIN_CONCURRENCY (per run),
 * LEASE_SECONDS, ...). A queue may name the job types it carries (`types: ['sms.send']`): its lease
 * and its drains' budgets then fit those types' timeouts only (README: Job types).
 */
import { orderConfirm } from './jobs/orderConfirm.js';
import { defineConfig, sms, webhook } from './lib/index.js';

export default defineConfig({
  queues: [
    { name: 'default' },
    // Batch SMS: the provider's contract is typically a fixed number of messages per second, for
    // the account as a whole: 50 started in any one second, however many drains run.
    { name: 'sms', ratePerSecond: 50 },
    // Third-party webhooks: flaky receivers, so fewer at once (10 in flight in all) and a patient backoff.
    { name: 'webhooks', concurrency: 10, backoff: { baseMs: 5_000, maxMs: 3_600_000 } },
    // Flash-sale order intake: absorb the burst at enqueue, drain at what the downstream takes.
    { name: 'orders', ratePerSecond: 200 },
    // Per run only (one drain's own fan-out and pace, no database permits): drainConcurrency, drainRatePerSecond.
    // A FIFO queue: every message carries a groupKey (an account, an order), and a group's messages
    // run one at a time in enqueue order; a failing one holds its group until it is done or dead
    // (README: FIFO queues).
    // { name: 'ledger', fifo: true },
  ],
  jobTypes: [
    // Settings from WEBHOOK_ALLOWED_HOSTS / SMS_PROVIDER_URL, secrets from WEBHOOK_SIGNING_SECRET /
    // SMS_PROVIDER_TOKEN (an SSM parameter when deployed): see serverless.yml.
    webhook(),
    sms(),
    orderConfirm,
  ],
  // Messages enqueued on a schedule by every drain run, each slot once (README: Recurring messages).
  // recurring: [
  //   { name: 'weekday-digest', schedule: 'cron(0 9 ? * MON-FRI *)', timezone: 'Europe/Paris', queue: 'sms', type: 'sms.send', payload: { to: '+33612345678', body: 'Your digest is ready' } },
  //   { name: 'partner-sync', schedule: 'rate(15 minutes)', queue: 'webhooks', type: 'webhook', payload: { url: 'https://hooks.example.com/sync', body: {} }, catchUp: 4 },
  // ],
});
