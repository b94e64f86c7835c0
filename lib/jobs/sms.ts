import * as z from 'zod';
import { RetryableError } from '../errors.js';
import { sendJson, undiciTransport, type HttpTransport } from './http.js';
import { resolveSecret, secret, type SecretInput } from '../secrets.js';
import { defineJobType } from './types.js';

export interface SmsJobTypeOptions {
  /**
   * The provider's send endpoint; it receives `POST {to, body, from?}` as JSON. Without it every
   * send fails as retryable (queued messages survive a configuration slip). Default: the
   * SMS_PROVIDER_URL setting.
   */
  providerUrl?: string | undefined;
  /** Sent as `authorization: Bearer <token>`. Default: the SMS_PROVIDER_TOKEN secret (lib/secrets.ts). */
  token?: SecretInput;
  /** Where the defaults are read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** How requests go out; default undiciTransport(). Tests pass fakes. */
  transport?: HttpTransport;
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
export function sms(options: SmsJobTypeOptions = {}) {
  const env = options.env ?? process.env;
  const providerUrl = ('providerUrl' in options ? options.providerUrl : env.SMS_PROVIDER_URL) || undefined;
  const token = 'token' in options ? options.token : secret('SMS_PROVIDER_TOKEN', { env });
  if (providerUrl !== undefined && !URL.canParse(providerUrl)) throw new TypeError('SMS provider URL is not a valid URL');
  if (providerUrl !== undefined && !/^https?:$/.test(new URL(providerUrl).protocol)) {
    throw new TypeError('SMS provider URL must be http or https');
  }
  const transport = options.transport ?? undiciTransport();

  return defineJobType({
    type: 'sms.send',
    payload: smsPayload,
    timeoutMs: options.timeoutMs ?? 10_000,
    settings: ['SMS_PROVIDER_URL'],
    secrets: ['SMS_PROVIDER_TOKEN'],
    async handle(payload, context) {
      if (providerUrl === undefined) {
        throw new RetryableError('SMS provider is not configured (SMS_PROVIDER_URL)');
      }
      const bearer = await resolveSecret(token);
      const authorization: Record<string, string> = bearer ? { authorization: `Bearer ${bearer}` } : {};
      await sendJson({
        transport,
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
