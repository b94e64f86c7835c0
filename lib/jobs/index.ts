export { JobRegistry } from './JobRegistry.js';
export { HostAllowList } from './HostAllowList.js';
export { sms, type SmsBulkOptions, type SmsJobTypeOptions, type SmsPayload } from './sms.js';
export { webhook, type WebhookJobTypeOptions, type WebhookPayload } from './webhook.js';
export { WEBHOOK_SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhookSignature.js';
export * from './types.js';
