import * as z from 'zod';
import { PermanentError, RetryableError } from '../errors.js';
import { walkPlainJson } from '../plainJson.js';
import { connectLookup, type HostResolver } from './addressLookup.js';
import { HostAllowList } from './HostAllowList.js';
import { rememberedByUrl, sendJson, undiciTransport, type HttpTransport } from './http.js';
import { resolveSecret, secret, type SecretInput } from '../secrets.js';
import { defineJobType } from './types.js';
import { WEBHOOK_SIGNATURE_HEADER, signWebhook } from './webhookSignature.js';

export interface WebhookJobTypeOptions {
  /**
   * Host patterns (see HostAllowList), as a list or comma-separated. Empty: every URL is refused.
   * Default: the WEBHOOK_ALLOWED_HOSTS setting.
   */
  allowedHosts?: string | readonly string[] | undefined;
  /**
   * Let allowed names resolve to loopback, private, link-local and metadata addresses (for a
   * local stack). Default: the WEBHOOK_ALLOW_PRIVATE_ADDRESSES setting, `true` or `false`
   * (unset: false).
   */
  allowPrivateAddresses?: boolean;
  /** How host names are resolved; default the system resolver. Tests pass fakes. */
  resolve?: HostResolver;
  /**
   * HMAC secret for the signature header. Without it every delivery fails as retryable (so queued
   * webhooks survive a configuration slip) rather than going out unsigned. Default: the
   * WEBHOOK_SIGNING_SECRET secret (see lib/secrets.ts).
   */
  signingSecret?: SecretInput;
  /** How requests go out; default undiciTransport(). Tests pass fakes. */
  transport?: HttpTransport;
  /** Per-request timeout; default 10 s. */
  timeoutMs?: number;
  /** Clock for the signature timestamp, in ms. */
  now?: () => number;
  /** Where the defaults are read; default process.env. */
  env?: NodeJS.ProcessEnv;
}

const MAX_HEADERS = 20;
const USER_AGENT = 'aurora-queue-webhook/1';

// Headers the transport or this product owns: letting a payload set them would break framing or forge signatures.
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'expect',
  'user-agent',
]);
const RESERVED_PREFIXES = ['proxy-', 'x-aurora-queue-'];

// A record key's refusal is named `headers.<name>` (see issuesFromZod), so the words need not repeat it.
const headerName = z
  .string()
  .refine((name) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(name), { message: 'not a valid header name', params: { rule: 'header_name' }, abort: true })
  .refine(
    (name) => {
      const lower = name.toLowerCase();
      return !RESERVED_HEADERS.has(lower) && !RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix));
    },
    { message: 'header is set by the queue and cannot be overridden', params: { rule: 'reserved_header' } },
  );

const headerValue = z
  .string()
  .max(1_024)
  .refine((value) => /^[^\r\n\0]*$/.test(value), { message: 'header values cannot contain line breaks', params: { rule: 'header_value' } });

/**
 * z.json()'s verdict without its cost where a walk can tell: z.json() tries each of its six kinds
 * in turn at every level, allocating an issue for each miss, which made it most of a webhook's
 * parse. True only for values z.json() accepts and passes on as they are; anything else (nesting
 * deeper than 64, a symbol or `__proto__` key, a class instance, a lone surrogate) is left to z.json(), so the
 * verdict and the issue are z.json()'s.
 */
function isPlainJson(value: unknown): boolean {
  return walkPlainJson(value, { maxDepth: 64, onFault: () => false });
}

// `abort` makes a miss of the fast path not an issue of its own: a body neither accepts is z.json()'s invalid_union.
const jsonBody = z.union([z.custom<z.core.util.JSONType>((value) => isPlainJson(value), { abort: true }), z.json()]);

/** What the webhook type needs to know about a URL: whether it may be requested, and how. */
interface UrlVerdict {
  refusal: string | undefined;
  /** Named in errors: paths and queries of webhook URLs often carry tokens. */
  origin: string;
  /** Allowed by an entry written as an address, so it may resolve to an internal one (see HostAllowList.listsAddress). */
  listedAddress: boolean;
}

const MAX_URL_LENGTH = 2_048;

/** The allow-list's verdicts by URL, remembered: the list does not change for the life of a job type. */
function urlVerdicts(allowList: HostAllowList): (url: string) => UrlVerdict {
  return rememberedByUrl((url) => {
    const refusal = allowList.refusal(url);
    if (refusal !== undefined) return { refusal, origin: '', listedAddress: false };
    return { refusal, origin: new URL(url).origin, listedAddress: allowList.listsAddress(url) };
  });
}

function webhookPayload(verdictOf: (url: string) => UrlVerdict) {
  return z.strictObject({
    url: z
      .string()
      .max(MAX_URL_LENGTH)
      .superRefine((url, context) => {
        const { refusal } = verdictOf(url);
        if (refusal) context.addIssue({ code: 'custom', message: `URL refused: ${refusal} (WEBHOOK_ALLOWED_HOSTS)`, params: { rule: 'allowed_url' } });
      }),
    /** Sent as the JSON request body. */
    body: jsonBody,
    headers: z
      .record(headerName, headerValue)
      .refine((headers) => Object.keys(headers).length <= MAX_HEADERS, { message: `at most ${MAX_HEADERS} headers`, params: { rule: 'too_big' } })
      .optional(),
    method: z.enum(['POST', 'PUT']).default('POST'),
  });
}

export type WebhookPayload = z.output<ReturnType<typeof webhookPayload>>;

/** A true/false setting: unset or empty is false; anything else is a mistake worth failing on. */
function booleanSetting(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  throw new TypeError(`${name} must be true or false, not "${value}"`);
}

/**
 * Job type `webhook`: sends `body` as JSON to `url`, signed (see webhookSignature.ts), with
 * `x-aurora-queue-message-id` and `x-aurora-queue-attempt` so receivers can deduplicate. 2xx:
 * done; 408/425/429/5xx and network errors: retried (Retry-After honoured); other statuses,
 * redirects included: dead. The URL is checked against the allow-list at enqueue (schema), again
 * when the payload is re-parsed before dispatch (so removing a host stops its queued webhooks),
 * and by the handler itself. An allowed name must also resolve to public addresses only, checked
 * when a connection is made, which then goes to the checked address (see addressLookup.ts):
 * otherwise the message is dead. Entries written as an IP literal or `localhost` are trusted as
 * written, and allowPrivateAddresses lifts the check.
 */
export function webhook(options: WebhookJobTypeOptions = {}) {
  const env = options.env ?? process.env;
  const allowList = HostAllowList.parse('allowedHosts' in options ? options.allowedHosts : env.WEBHOOK_ALLOWED_HOSTS);
  const allowPrivateAddresses = options.allowPrivateAddresses ?? booleanSetting('WEBHOOK_ALLOW_PRIVATE_ADDRESSES', env.WEBHOOK_ALLOW_PRIVATE_ADDRESSES);
  const publicOnlyLookup = connectLookup({ resolve: options.resolve, publicOnly: true });
  // Undefined leaves resolution to net.connect itself.
  const trustedLookup = options.resolve === undefined ? undefined : connectLookup({ resolve: options.resolve, publicOnly: false });
  const signingSecretInput = 'signingSecret' in options ? options.signingSecret : secret('WEBHOOK_SIGNING_SECRET', { env });
  const transport = options.transport ?? undiciTransport();
  const now = options.now ?? Date.now;
  const verdictOf = urlVerdicts(allowList);

  return defineJobType({
    type: 'webhook',
    payload: webhookPayload(verdictOf),
    timeoutMs: options.timeoutMs ?? 10_000,
    settings: ['WEBHOOK_ALLOWED_HOSTS', 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES'],
    secrets: ['WEBHOOK_SIGNING_SECRET'],
    async handle(payload, context) {
      const verdict = verdictOf(payload.url);
      if (verdict.refusal) throw new PermanentError(`webhook URL refused: ${verdict.refusal}`);
      const signingSecret = await resolveSecret(signingSecretInput);
      if (signingSecret === undefined) {
        throw new RetryableError('webhook signing secret is not configured (WEBHOOK_SIGNING_SECRET)');
      }
      const body = JSON.stringify(payload.body);
      const timestampSeconds = Math.floor(now() / 1_000);
      await sendJson({
        transport,
        url: payload.url,
        method: payload.method,
        headers: {
          ...payload.headers,
          'user-agent': USER_AGENT,
          [WEBHOOK_SIGNATURE_HEADER]: signWebhook(signingSecret, timestampSeconds, body),
          'x-aurora-queue-message-id': context.id,
          'x-aurora-queue-attempt': String(context.attempt),
        },
        body,
        signal: context.signal,
        target: `webhook ${verdict.origin}`,
        lookup: allowPrivateAddresses || verdict.listedAddress ? trustedLookup : publicOnlyLookup,
      });
    },
  });
}
