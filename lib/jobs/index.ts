export { JobRegistry } from './JobRegistry.js';
export { HostAllowList } from './HostAllowList.js';
export { sms, type SmsBulkOptions, type SmsJobTypeOptions, type SmsPayload } from './sms.js';
export { webhook, type WebhookJobTypeOptions, type WebhookPayload } from './webhook.js';
export { WEBHOOK_SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhookSignature.js';
export {
  defineJobType,
  isBatchType,
  type AnyJobType,
  type BackoffPolicy,
  type BatchContext,
  type BatchItemFailure,
  type BatchJobType,
  type BatchMessage,
  type BatchOptions,
  type JobContext,
  type JobType,
  type PayloadInput,
  type SingleJobType,
} from './types.js';
