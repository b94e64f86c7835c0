import { smsJobTypeFromEnv } from './sms.js';
import type { JobType } from './types.js';
import { webhookJobTypeFromEnv } from './webhook.js';

export { JobRegistry } from './JobRegistry.js';
export { HostAllowList } from './HostAllowList.js';
export { createSmsJobType, smsJobTypeFromEnv, type SmsJobTypeOptions, type SmsPayload } from './sms.js';
export { createWebhookJobType, webhookJobTypeFromEnv, type WebhookJobTypeOptions, type WebhookPayload } from './webhook.js';
export { WEBHOOK_SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhookSignature.js';
export { defineJobType, type BackoffPolicy, type JobContext, type JobType } from './types.js';

/**
 * The job types that ship with the product, configured from the environment. Missing settings do
 * not throw here (so any handler can load); malformed ones (a bad host pattern or URL) do.
 */
export function builtInJobTypes(env: NodeJS.ProcessEnv = process.env): JobType[] {
  return [webhookJobTypeFromEnv(env), smsJobTypeFromEnv(env)];
}
