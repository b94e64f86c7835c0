import { afterEach, describe, expect, it } from 'vitest';
import { startFakeSmsProvider, type FakeSmsProvider, type FakeSmsProviderOptions } from '../../dev/fakeSmsProvider.js';

let provider: FakeSmsProvider | undefined;
afterEach(async () => {
  await provider?.close();
  provider = undefined;
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.text() };
}

async function statuses(options: FakeSmsProviderOptions, count: number): Promise<number[]> {
  const fake = await startFakeSmsProvider(options);
  try {
    const result: number[] = [];
    for (let i = 0; i < count; i++) result.push((await post(fake.url, { to: `+1555000${1000 + i}`, body: 'hi' })).status);
    return result;
  } finally {
    await fake.close();
  }
}

describe('startFakeSmsProvider', () => {
  it('listens on 127.0.0.1 and accepts texts, counting them by recipient', async () => {
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0 });
    expect(provider.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/messages$/);
    expect((await post(provider.url, { to: '+15550001111', body: 'a' })).status).toBe(200);
    expect((await post(provider.url, { to: '+15550001111', body: 'b' }, { 'idempotency-key': 'k1' })).status).toBe(200);
    expect((await post(provider.url, { to: '+15550002222', body: 'c' }, { 'idempotency-key': 'k1' })).status).toBe(200);
    const stats = provider.stats();
    expect(stats).toMatchObject({ received: 3, accepted: 3, failed: 0, throttled: 0, rejected: 0, duplicates: 1 });
    expect([...stats.delivered]).toEqual([
      ['+15550001111', 2],
      ['+15550002222', 1],
    ]);
  });

  it('rejects malformed texts with 400', async () => {
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0 });
    expect((await post(provider.url, { to: '555', body: 'a' })).status).toBe(400);
    expect((await post(provider.url, { to: '+15550001111', body: '' })).status).toBe(400);
    expect(provider.stats()).toMatchObject({ received: 2, rejected: 2, accepted: 0 });
  });

  it('answers 401 without the right bearer token', async () => {
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, token: 't' });
    expect((await post(provider.url, { to: '+15550001111', body: 'a' })).status).toBe(401);
    expect((await post(provider.url, { to: '+15550001111', body: 'a' }, { authorization: 'Bearer t' })).status).toBe(200);
  });

  it('fails always at failureRate 1, throttles with Retry-After at throttleRate 1', async () => {
    provider = await startFakeSmsProvider({ failureRate: 1 });
    expect((await post(provider.url, { to: '+15550001111', body: 'a' })).status).toBe(500);
    await provider.close();
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 1, retryAfterSeconds: 7 });
    expect(await post(provider.url, { to: '+15550001111', body: 'a' })).toMatchObject({ status: 429, retryAfter: '7' });
    expect(provider.stats()).toMatchObject({ throttled: 1, accepted: 0 });
  });

  it('answers the same sequence for the same seed, at roughly the given rates', async () => {
    const options = { failureRate: 0.3, throttleRate: 0.2, seed: 42 };
    const first = await statuses(options, 60);
    expect(await statuses(options, 60)).toEqual(first);
    expect(await statuses({ ...options, seed: 7 }, 60)).not.toEqual(first);
    const count = (status: number) => first.filter((s) => s === status).length;
    expect(count(500)).toBeGreaterThan(5);
    expect(count(429)).toBeGreaterThan(2);
    expect(count(200)).toBeGreaterThan(15);
    expect(count(500) + count(429) + count(200)).toBe(60);
  });
});

describe('startFakeSmsProvider: bulk endpoint', () => {
  it('answers each text of a bulk request, refusing malformed texts and refused numbers, and counts requests apart', async () => {
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, refusedNumbers: ['+15550009999'] });
    expect(provider.bulkUrl).toBe(provider.url.replace(/\/messages$/, '/messages/bulk'));
    const messages = [
      { id: 'a', to: '+15550001111', body: 'hi' },
      { id: 'b', to: '+15550009999', body: 'hi' },
      { id: 'c', to: 'nope', body: 'hi' },
    ];
    const answer = await post(provider.bulkUrl, { messages });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({
      results: [
        { id: 'a', status: 'accepted', providerId: 'fake-1' },
        { id: 'b', status: 'refused', error: 'recipient refused' },
        { id: 'c', status: 'refused', error: 'malformed text' },
      ],
    });
    // Sent again: accepted again, counted as a duplicate (what a real provider keyed by id would not send).
    await post(provider.bulkUrl, { messages: [messages[0]] });
    expect(provider.stats()).toMatchObject({ received: 2, bulkRequests: 2, accepted: 2, refused: 2, duplicates: 1 });
    // A refused number alone is a 400.
    expect((await post(provider.url, { to: '+15550009999', body: 'x' })).status).toBe(400);
  });

  it('rejects a malformed bulk request, and fails or throttles whole requests at their rates', async () => {
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, bulkThrottleRate: 1, retryAfterSeconds: 3 });
    expect((await post(provider.bulkUrl, { messages: [] })).status).toBe(400);
    expect((await post(provider.bulkUrl, { messages: [{ to: '+15550001111', body: 'no id' }] })).status).toBe(400);
    const throttled = await post(provider.bulkUrl, { messages: [{ id: 'a', to: '+15550001111', body: 'hi' }] });
    expect({ status: throttled.status, retryAfter: throttled.retryAfter }).toEqual({ status: 429, retryAfter: '3' });
    await provider.close();
    provider = await startFakeSmsProvider({ failureRate: 0, throttleRate: 0, bulkFailureRate: 1 });
    expect((await post(provider.bulkUrl, { messages: [{ id: 'a', to: '+15550001111', body: 'hi' }] })).status).toBe(500);
    expect(provider.stats()).toMatchObject({ bulkRequests: 1, failed: 1, accepted: 0 });
  });
});
