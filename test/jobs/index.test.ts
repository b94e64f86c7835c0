import { describe, expect, it } from 'vitest';
import { JobRegistry, builtInJobTypes } from '../../lib/jobs/index.js';

describe('builtInJobTypes', () => {
  it('are webhook and sms.send, and register together', () => {
    const registry = new JobRegistry(builtInJobTypes({}));
    expect(registry.types()).toEqual(['webhook', 'sms.send']);
  });

  it('load without any configuration', () => {
    expect(() => builtInJobTypes({})).not.toThrow();
  });

  it('are configured from the given environment', () => {
    const [webhook, sms] = builtInJobTypes({ WEBHOOK_ALLOWED_HOSTS: '*.partner.test', SMS_PROVIDER_URL: 'http://127.0.0.1:1/' });
    expect(webhook?.payload.safeParse({ url: 'https://a.partner.test/', body: {} }).success).toBe(true);
    expect(webhook?.payload.safeParse({ url: 'https://other.test/', body: {} }).success).toBe(false);
    expect(sms?.payload.safeParse({ to: '+15551234567', body: 'hi' }).success).toBe(true);
  });

  it('throw on malformed configuration', () => {
    expect(() => builtInJobTypes({ WEBHOOK_ALLOWED_HOSTS: 'a.test/x' })).toThrow(TypeError);
    expect(() => builtInJobTypes({ SMS_PROVIDER_URL: 'nope' })).toThrow(TypeError);
  });
});
