import { createHmac, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SIGNATURE_HEADER = 'x-aurora-queue-signature';

/** A receiver should refuse signatures older than this, so a captured request cannot be replayed later. */
export const DEFAULT_SIGNATURE_TOLERANCE_SECONDS = 300;

/**
 * The signature header value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
 *
 * A receiver verifies it by (see verifyWebhookSignature):
 * 1. reading `t` and `v1` from the header;
 * 2. computing HMAC-SHA256 with the shared secret over the string `<t>.` followed by the raw
 *    request body, exactly as received (before any JSON parsing), as lower-case hex;
 * 3. comparing that to `v1` in constant time, and refusing when `t` is more than a few minutes
 *    from its own clock (replay).
 * Retries of one message are separate requests with fresh timestamps but the same
 * `x-aurora-queue-message-id`, which is what a receiver should deduplicate on.
 */
export function signWebhook(secret: string, timestampSeconds: number, body: string): string {
  return `t=${timestampSeconds},v1=${hmacHex(secret, timestampSeconds, body)}`;
}

export interface WebhookSignatureCheck {
  secret: string;
  /** The signature header value as received; undefined or malformed fails. */
  header: string | null | undefined;
  /** The raw request body. */
  body: string;
  nowSeconds?: number;
  toleranceSeconds?: number;
}

export function verifyWebhookSignature(check: WebhookSignatureCheck): boolean {
  const fields = new Map(
    (check.header ?? '').split(',').map((part) => {
      const at = part.indexOf('=');
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const;
    }),
  );
  const t = fields.get('t');
  const v1 = fields.get('v1');
  if (t === undefined || !/^\d+$/.test(t) || v1 === undefined || !/^[0-9a-f]{64}$/.test(v1)) return false;

  const nowSeconds = check.nowSeconds ?? Math.floor(Date.now() / 1_000);
  const tolerance = check.toleranceSeconds ?? DEFAULT_SIGNATURE_TOLERANCE_SECONDS;
  if (Math.abs(nowSeconds - Number(t)) > tolerance) return false;

  const expected = Buffer.from(hmacHex(check.secret, Number(t), check.body), 'hex');
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}

function hmacHex(secret: string, timestampSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
}
