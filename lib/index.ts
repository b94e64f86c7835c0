/**
 * The public face of aurora-queue: what a team's `queue.config.ts`, its `jobs/` and its producers
 * use. Anything else under lib/ is internal and may change without notice.
 */
export { defineConfig, ConfigError, type JobTypesOf, type QueueAppConfig } from './config.js';
export type { QueueDeclaration } from './queues.js';
export type { RecurringDeclaration, RecurringEntry } from './recurring.js';
export { ScheduleError } from './schedule.js';
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
  type ResultOf,
  type SingleJobType,
} from './jobs/types.js';
export { webhook, type WebhookJobTypeOptions, type WebhookPayload } from './jobs/webhook.js';
export { sms, type SmsBulkOptions, type SmsJobTypeOptions, type SmsPayload } from './jobs/sms.js';
export { WEBHOOK_SIGNATURE_HEADER, verifyWebhookSignature } from './jobs/webhookSignature.js';
export {
  CancelRequestedError,
  ConflictError,
  LeaseLostError,
  NotFoundError,
  PermanentError,
  QueueError,
  RetryableError,
  TooLargeError,
  ValidationError,
  type FieldIssue,
} from './errors.js';
export { secret, type Secret, type SecretInput } from './secrets.js';
export { createApp, type App, type AppOptions } from './app.js';
export { enqueue, enqueueInTransaction, wakeDrain, type MessageFor, type EnqueueMessage, type EnqueuedMessage, type DedupRule } from './enqueue.js';
export { getMessageStatus, cancelMessage, type MessageView } from './messages.js';
export { createLogger } from './observability.js';
export {
  createQueueClient,
  type DirectQueueClient,
  type QueueClient,
  type MessageViewOf,
  type SendOptions,
  type WaitForOptions,
  type GroupLimitsChange,
  type GroupList,
  type GroupView,
  WaitTimeoutError,
} from './client/index.js';
