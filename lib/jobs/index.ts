export { JobRegistry } from './JobRegistry.js';
export { HostAllowList } from './HostAllowList.js';
export { sms, type SmsJobTypeOptions, type SmsPayload } from './sms.js';
export { webhook, type WebhookJobTypeOptions, type WebhookPayload } from './webhook.js';
export { WEBHOOK_SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhookSignature.js';
export { defineJobType, type AnyJobType, type BackoffPolicy, type JobContext, type JobType, type PayloadInput } from './types.js';
