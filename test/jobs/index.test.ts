import { describe, expect, it } from 'vitest';
import { JobRegistry, sms, webhook } from '../../lib/jobs/index.js';

describe('the built-in job type factories', () => {
  it('are webhook and sms.send, and register together', () => {
    const registry = new JobRegistry([webhook({ env: {} }), sms({ env: {} })]);
    expect(registry.types()).toEqual(['webhook', 'sms.send']);
  });

  it('load without any configuration', () => {
    expect(() => [webhook({ env: {} }), sms({ env: {} })]).not.toThrow();
  });

  it('read their settings from the given environment by default', () => {
    const env = { WEBHOOK_ALLOWED_HOSTS: '*.partner.test', SMS_PROVIDER_URL: 'http://127.0.0.1:1/' };
    expect(webhook({ env }).payload.safeParse({ url: 'https://a.partner.test/', body: {} }).success).toBe(true);
    expect(webhook({ env }).payload.safeParse({ url: 'https://other.test/', body: {} }).success).toBe(false);
    expect(sms({ env }).payload.safeParse({ to: '+15551234567', body: 'hi' }).success).toBe(true);
  });

  it('let an explicit setting win over the environment', () => {
    const type = webhook({ env: { WEBHOOK_ALLOWED_HOSTS: 'a.test' }, allowedHosts: 'b.test' });
    expect(type.payload.safeParse({ url: 'https://b.test/', body: {} }).success).toBe(true);
    expect(type.payload.safeParse({ url: 'https://a.test/', body: {} }).success).toBe(false);
  });

  it('declare the settings and secrets a deploy must wire', () => {
    expect(webhook({ env: {} })).toMatchObject({ settings: ['WEBHOOK_ALLOWED_HOSTS', 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES'], secrets: ['WEBHOOK_SIGNING_SECRET'] });
    expect(sms({ env: {} })).toMatchObject({ settings: ['SMS_PROVIDER_URL'], secrets: ['SMS_PROVIDER_TOKEN'] });
  });

  it('throw on malformed configuration', () => {
    expect(() => webhook({ env: { WEBHOOK_ALLOWED_HOSTS: 'a.test/x' } })).toThrow(TypeError);
    expect(() => sms({ env: { SMS_PROVIDER_URL: 'nope' } })).toThrow(TypeError);
  });
});
