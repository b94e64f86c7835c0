import * as z from 'zod';
import { RetryableError } from '../errors.js';
import { sendJson } from './http.js';
import { defineJobType, type JobType } from './types.js';

export interface SmsJobTypeOptions {
  /**
   * The provider's send endpoint; it receives `POST {to, body, from?}` as JSON. Without it every
   * send fails as retryable (queued messages survive a configuration slip).
   */
  providerUrl: string | undefined;
  /** Sent as `authorization: Bearer <token>`. */
  token?: string | undefined;
  fetch?: typeof fetch;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
}

export const E164 = /^\+[1-9]\d{1,14}$/;

// A sender is a number or an alphanumeric sender ID (at most 11 characters, per GSM).
const SENDER = /^(\+[1-9]\d{1,14}|[A-Za-z0-9 ]{1,11})$/;

export const smsPayload = z.strictObject({
  to: z.string().regex(E164, 'must be an E.164 number, e.g. +15551234567'),
  body: z.string().min(1).max(1_600),
  from: z.string().regex(SENDER, 'must be an E.164 number or an alphanumeric sender ID of at most 11 characters').optional(),
});

export type SmsPayload = z.output<typeof smsPayload>;

/**
 * Job type `sms.send`: posts the message to the provider with an `idempotency-key` of the queue
 * message id, so a provider that honours it sends each text once even when a lost response
 * makes the queue retry. Status rules as for webhooks (see http.ts).
 */
export function createSmsJobType(options: SmsJobTypeOptions): JobType<SmsPayload> {
  const providerUrl = options.providerUrl || undefined;
  if (providerUrl !== undefined && !URL.canParse(providerUrl)) throw new TypeError('SMS provider URL is not a valid URL');
  if (providerUrl !== undefined && !/^https?:$/.test(new URL(providerUrl).protocol)) {
    throw new TypeError('SMS provider URL must be http or https');
  }
  const fetchFn = options.fetch ?? globalThis.fetch;
  const authorization: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};

  return defineJobType({
    type: 'sms.send',
    payload: smsPayload,
    timeoutMs: options.timeoutMs ?? 10_000,
    async handle(payload, context) {
      if (providerUrl === undefined) {
        throw new RetryableError('SMS provider is not configured (SMS_PROVIDER_URL)');
      }
      await sendJson({
        fetch: fetchFn,
        url: providerUrl,
        method: 'POST',
        headers: { ...authorization, 'idempotency-key': context.id },
        body: JSON.stringify(payload),
        signal: context.signal,
        target: 'SMS provider',
      });
    },
  });
}

/** The SMS type configured by SMS_PROVIDER_URL and SMS_PROVIDER_TOKEN. */
export function smsJobTypeFromEnv(env: NodeJS.ProcessEnv = process.env): JobType<SmsPayload> {
  return createSmsJobType({ providerUrl: env.SMS_PROVIDER_URL, token: env.SMS_PROVIDER_TOKEN });
}
