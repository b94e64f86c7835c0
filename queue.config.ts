/**
 * Your queues and job types. Every entry point (the Lambda handlers, the CLI, `npm start`, the
 * demo and the bench) loads this file. Limits not given here come from the drain-wide defaults
 * (serverless.yml parameters → DRAIN_BATCH_SIZE, DRAIN_CONCURRENCY, LEASE_SECONDS, ...).
 */
import { orderConfirm } from './jobs/orderConfirm.js';
import { defineConfig, sms, webhook } from './lib/index.js';

export default defineConfig({
  queues: [
    { name: 'default' },
    // Batch SMS: the provider's contract is typically a fixed number of messages per second.
    { name: 'sms', ratePerSecond: 50 },
    // Third-party webhooks: flaky receivers, so fewer at once and a patient backoff.
    { name: 'webhooks', concurrency: 10, backoff: { baseMs: 5_000, maxMs: 3_600_000 } },
    // Flash-sale order intake: absorb the burst at enqueue, drain at what the downstream takes.
    { name: 'orders', ratePerSecond: 200 },
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
