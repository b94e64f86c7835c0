import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../lib/jobs/webhookSignature.js';

const secret = 'whsec_test';
const body = '{"order":42}';
const t = 1_767_225_600;

describe('signWebhook', () => {
  it('is HMAC-SHA256 of "<t>.<body>" in hex, as a receiver would compute it by hand', () => {
    const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
    expect(signWebhook(secret, t, body)).toBe(`t=${t},v1=${expected}`);
  });
});

describe('verifyWebhookSignature', () => {
  const header = signWebhook(secret, t, body);

  it('accepts a fresh, matching signature', () => {
    expect(verifyWebhookSignature({ secret, header, body, nowSeconds: t + 10 })).toBe(true);
  });

  it('refuses a changed body, another secret, or a stale timestamp', () => {
    expect(verifyWebhookSignature({ secret, header, body: '{"order":43}', nowSeconds: t })).toBe(false);
    expect(verifyWebhookSignature({ secret: 'other', header, body, nowSeconds: t })).toBe(false);
    expect(verifyWebhookSignature({ secret, header, body, nowSeconds: t + 301 })).toBe(false);
    expect(verifyWebhookSignature({ secret, header, body, nowSeconds: t + 3_600, toleranceSeconds: 7_200 })).toBe(true);
  });

  it.each([undefined, null, '', 'v1=abc', `t=${t}`, `t=x,v1=${'0'.repeat(64)}`, `t=${t},v1=zz`])('refuses the header %j', (bad) => {
    expect(verifyWebhookSignature({ secret, header: bad, body, nowSeconds: t })).toBe(false);
  });
});
