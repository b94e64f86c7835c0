import * as z from 'zod';
import { PermanentError, RetryableError, describeError } from '../errors.js';
import { sendJson, sendJsonReadingAnswer, undiciTransport, type HttpTransport } from './http.js';
import { resolveSecret, secret, type SecretInput } from '../secrets.js';
import { defineJobType, type BatchItemFailure, type BatchJobType, type BatchMessage, type SingleJobType } from './types.js';

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
  /**
   * Bulk mode: messages go to the provider's bulk endpoint, up to `maxSize` in one request, as
   * a batch type (lib/jobs/types.ts BatchJobType). Without it, one request per message.
   */
  bulk?: SmsBulkOptions | undefined;
}

export interface SmsBulkOptions {
  /** Most texts in one request: 1 to 1,000. */
  maxSize: number;
  /** How long the drain may hold texts to fill a request (BatchOptions.maxWaitMs); default 0. */
  maxWaitMs?: number;
  /**
   * The provider's bulk endpoint; it receives `POST {messages: [{id, to, body, from?}]}` and
   * answers `{results: [{id, status, error?, retryAfterSeconds?}]}` (see smsBulkAnswer). Default:
   * the SMS_PROVIDER_BULK_URL setting, else the send endpoint's path with `/bulk` appended.
   */
  url?: string | undefined;
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
 * A bulk endpoint's answer: a result per text, by the id sent with it. `accepted`: done;
 * `refused` (a number that cannot receive, a blocked sender): dead; `throttled` and `failed`:
 * retried, after `retryAfterSeconds` when given. Unknown fields are ignored.
 */
export const smsBulkAnswer = z.object({
  results: z.array(
    z.object({
      id: z.string(),
      status: z.enum(['accepted', 'refused', 'throttled', 'failed']),
      error: z.string().optional(),
      retryAfterSeconds: z.number().nonnegative().optional(),
    }),
  ),
});

// What a bulk answer of 1,000 results takes, with room for long errors.
const MAX_BULK_ANSWER_BYTES = 4 * 1024 * 1024;

type SmsInput = z.input<typeof smsPayload>;

/**
 * Job type `sms.send`: posts the message to the provider with an `idempotency-key` of the queue
 * message id, so a provider that honours it sends each text once even when a lost response
 * makes the queue retry. Status rules as for webhooks (see http.ts). With `bulk`, a batch type:
 * one request per batch to the bulk endpoint, each text with its message id as its key.
 */
export function sms(options: SmsJobTypeOptions & { bulk: SmsBulkOptions }): BatchJobType<SmsPayload, 'sms.send', SmsInput>;
export function sms(options?: SmsJobTypeOptions & { bulk?: undefined }): SingleJobType<SmsPayload, 'sms.send', SmsInput>;
export function sms(options: SmsJobTypeOptions): SingleJobType<SmsPayload, 'sms.send', SmsInput> | BatchJobType<SmsPayload, 'sms.send', SmsInput>;
export function sms(options: SmsJobTypeOptions = {}): SingleJobType<SmsPayload, 'sms.send', SmsInput> | BatchJobType<SmsPayload, 'sms.send', SmsInput> {
  const env = options.env ?? process.env;
  const providerUrl = ('providerUrl' in options ? options.providerUrl : env.SMS_PROVIDER_URL) || undefined;
  const token = 'token' in options ? options.token : secret('SMS_PROVIDER_TOKEN', { env });
  checkUrl(providerUrl, 'SMS provider URL');
  const transport = options.transport ?? undiciTransport();
  const authorization = async (): Promise<Record<string, string>> => {
    const bearer = await resolveSecret(token);
    return bearer ? { authorization: `Bearer ${bearer}` } : {};
  };
  const common = {
    type: 'sms.send',
    payload: smsPayload,
    timeoutMs: options.timeoutMs ?? 10_000,
    secrets: ['SMS_PROVIDER_TOKEN'],
  } as const;

  if (options.bulk !== undefined) {
    const bulkUrl = options.bulk.url ?? (env.SMS_PROVIDER_BULK_URL || undefined) ?? (providerUrl === undefined ? undefined : appendPath(providerUrl, 'bulk'));
    checkUrl(bulkUrl, 'SMS provider bulk URL');
    return defineJobType({
      ...common,
      settings: ['SMS_PROVIDER_URL', 'SMS_PROVIDER_BULK_URL'],
      batch: { maxSize: options.bulk.maxSize, ...(options.bulk.maxWaitMs === undefined ? {} : { maxWaitMs: options.bulk.maxWaitMs }) },
      async handleBatch(messages, context) {
        if (bulkUrl === undefined) throw new RetryableError('SMS provider is not configured (SMS_PROVIDER_URL or SMS_PROVIDER_BULK_URL)');
        let answer: string;
        try {
          answer = await sendJsonReadingAnswer(
            {
              transport,
              url: bulkUrl,
              method: 'POST',
              headers: await authorization(),
              body: JSON.stringify({ messages: messages.map((m) => ({ id: m.id, ...m.payload })) }),
              signal: context.signal,
              target: 'SMS provider (bulk)',
            },
            MAX_BULK_ANSWER_BYTES,
          );
        } catch (error) {
          // Refused as a whole (400, 401, a redirect): each text would be refused alone too.
          if (error instanceof PermanentError) return messages.map((m) => ({ id: m.id, outcome: 'dead', error: describeError(error) }));
          throw error;
        }
        return failuresOf(messages, answer);
      },
    });
  }

  return defineJobType({
    ...common,
    settings: ['SMS_PROVIDER_URL'],
    async handle(payload, context) {
      if (providerUrl === undefined) {
        throw new RetryableError('SMS provider is not configured (SMS_PROVIDER_URL)');
      }
      await sendJson({
        transport,
        url: providerUrl,
        method: 'POST',
        headers: { ...(await authorization()), 'idempotency-key': context.id },
        body: JSON.stringify(payload),
        signal: context.signal,
        target: 'SMS provider',
      });
    },
  });
}

/**
 * A bulk answer as the batch's failures: refused texts dead, throttled and failed ones retried,
 * and any text the answer does not mention retried too (the provider keys texts by id, so
 * sending it again is safe). An answer that cannot be read retries them all.
 */
export function failuresOf(messages: readonly BatchMessage[], answer: string): BatchItemFailure[] {
  let parsed: z.output<typeof smsBulkAnswer>;
  try {
    parsed = smsBulkAnswer.parse(JSON.parse(answer));
  } catch (error) {
    throw new RetryableError(`SMS provider (bulk) answered something unreadable: ${describeError(error)}`, { cause: error });
  }
  const results = new Map(parsed.results.map((result) => [result.id, result]));
  return messages.flatMap((message): BatchItemFailure[] => {
    const result = results.get(message.id);
    if (result === undefined) return [{ id: message.id, outcome: 'retry', error: 'SMS provider (bulk) gave no result for this text' }];
    const detail = result.error === undefined ? '' : `: ${result.error}`;
    switch (result.status) {
      case 'accepted':
        return [];
      case 'refused':
        return [{ id: message.id, outcome: 'dead', error: `SMS provider (bulk) refused the text${detail}` }];
      case 'throttled':
      case 'failed':
        return [
          {
            id: message.id,
            outcome: 'retry',
            error: `SMS provider (bulk): ${result.status}${detail}`,
            ...(result.retryAfterSeconds === undefined ? {} : { retryAfterMs: result.retryAfterSeconds * 1_000 }),
          },
        ];
    }
  });
}

function checkUrl(url: string | undefined, what: string): void {
  if (url !== undefined && !URL.canParse(url)) throw new TypeError(`${what} is not a valid URL`);
  if (url !== undefined && !/^https?:$/.test(new URL(url).protocol)) throw new TypeError(`${what} must be http or https`);
}

/** `https://p.example/v1/messages?x=1` + `bulk`: `https://p.example/v1/messages/bulk?x=1`. */
function appendPath(url: string, segment: string): string {
  const parsed = new URL(url);
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/${segment}`;
  return parsed.toString();
}
