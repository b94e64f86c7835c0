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
});
