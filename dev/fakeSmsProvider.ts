import { createServer } from 'node:http';
import { E164 } from '../lib/jobs/sms.js';
import { closeServer, listenOnLoopback, readBody } from './loopback.js';

export interface FakeSmsProviderOptions {
  port?: number;
  /** Share of calls answered 500. */
  failureRate?: number;
  /** Share of calls answered 429 with Retry-After. */
  throttleRate?: number;
  retryAfterSeconds?: number;
  /** Makes the sequence of answers repeatable. */
  seed?: number;
  /** When set, calls without `authorization: Bearer <token>` are answered 401. */
  token?: string;
  /** Recipients the provider refuses (a permanent, per-text refusal: `refused` in a bulk answer, 400 alone). */
  refusedNumbers?: Iterable<string>;
  /** Bulk endpoint: share of whole requests answered 500 (failureRate and throttleRate then apply per text). Default 0. */
  bulkFailureRate?: number;
  /** Bulk endpoint: share of whole requests answered 429 with Retry-After. Default 0. */
  bulkThrottleRate?: number;
  /** How long each answer takes, as an API across the internet does. Default 0 (at once). */
  latencyMs?: number;
}

export interface FakeSmsProviderStats {
  /** Calls, to either endpoint. */
  received: number;
  /** Calls to the bulk endpoint (also counted in `received`). */
  bulkRequests: number;
  /** Texts accepted, failed, throttled (per call to the send endpoint, per text in a bulk one). */
  accepted: number;
  failed: number;
  throttled: number;
  /** Texts refused for good: a refused number. */
  refused: number;
  /** Malformed or unauthorized calls (400, 401). */
  rejected: number;
  /** Accepted texts per recipient. */
  delivered: Map<string, number>;
  /** Accepted calls whose idempotency-key had been accepted before: what a real provider would have sent twice. */
  duplicates: number;
}

export interface FakeSmsProvider {
  /** The send endpoint, `http://127.0.0.1:<port>/messages`. */
  url: string;
  /** The bulk endpoint, `http://127.0.0.1:<port>/messages/bulk` (what sms({ bulk }) finds from `url`). */
  bulkUrl: string;
  /** A snapshot. */
  stats(): FakeSmsProviderStats;
  close(): Promise<void>;
}

/**
 * An SMS provider on 127.0.0.1 for the demo and tests: accepts `POST {to, body, from?}` and
 * fails, throttles or accepts each call at the given rates, the way a real one does on a bad day.
 * Its bulk endpoint (`/messages/bulk`) takes `POST {messages: [{id, to, body, from?}]}` (up to
 * 1,000) and answers 200 `{results: [{id, status, error?, retryAfterSeconds?}]}`, each text
 * accepted, failed, throttled (at the same rates) or refused (a malformed text, a refused
 * number); a whole request may fail or be throttled too (bulkFailureRate, bulkThrottleRate).
 */
export async function startFakeSmsProvider(options: FakeSmsProviderOptions = {}): Promise<FakeSmsProvider> {
  const failureRate = options.failureRate ?? 0.1;
  const throttleRate = options.throttleRate ?? 0.05;
  const retryAfterSeconds = options.retryAfterSeconds ?? 1;
  const latencyMs = options.latencyMs ?? 0;
  const random = options.seed === undefined ? Math.random : mulberry32(options.seed);
  const acceptedKeys = new Set<string>();
  const refusedNumbers = new Set(options.refusedNumbers ?? []);
  const stats: FakeSmsProviderStats = {
    received: 0,
    bulkRequests: 0,
    accepted: 0,
    failed: 0,
    throttled: 0,
    refused: 0,
    rejected: 0,
    delivered: new Map(),
    duplicates: 0,
  };

  const server = createServer((request, response) => {
    const send = (status: number, body: unknown, headers: Record<string, string>) => {
      response.writeHead(status, { 'content-type': 'application/json', ...headers });
      response.end(JSON.stringify(body));
    };
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (latencyMs > 0) setTimeout(send, latencyMs, status, body, headers);
      else send(status, body, headers);
    };
    void readBody(request)
      .then((text) => {
        stats.received++;
        if (options.token !== undefined && request.headers.authorization !== `Bearer ${options.token}`) {
          stats.rejected++;
          return reply(401, { error: 'unauthorized' });
        }
        if (request.url === '/messages/bulk') return bulk(text);
        const message = parseMessage(text);
        if (request.method === 'POST' && message !== undefined && refusedNumbers.has(message.to)) {
          stats.refused++;
          return reply(400, { error: 'recipient refused' });
        }
        if (request.method !== 'POST' || message === undefined) {
          stats.rejected++;
          return reply(400, { error: 'expected POST {"to": "+E.164", "body": "1-1600 characters"}' });
        }
        const roll = random();
        if (roll < failureRate) {
          stats.failed++;
          return reply(500, { error: 'provider hiccup' });
        }
        if (roll < failureRate + throttleRate) {
          stats.throttled++;
          return reply(429, { error: 'slow down' }, { 'retry-after': String(retryAfterSeconds) });
        }
        stats.accepted++;
        stats.delivered.set(message.to, (stats.delivered.get(message.to) ?? 0) + 1);
        const key = request.headers['idempotency-key'];
        if (typeof key === 'string') {
          if (acceptedKeys.has(key)) stats.duplicates++;
          acceptedKeys.add(key);
        }
        return reply(200, { id: `fake-${stats.accepted}` });
      })
      .catch(() => reply(400, { error: 'unreadable request' }));

    function bulk(text: string): void {
      stats.bulkRequests++;
      const items = request.method === 'POST' ? parseBulk(text) : undefined;
      if (items === undefined) {
        stats.rejected++;
        return reply(400, { error: 'expected POST {"messages": [{"id": "...", "to": "+E.164", "body": "..."}]}, 1-1000 of them' });
      }
      const roll = random();
      if (roll < (options.bulkFailureRate ?? 0)) {
        stats.failed += items.length;
        return reply(500, { error: 'provider hiccup' });
      }
      if (roll < (options.bulkFailureRate ?? 0) + (options.bulkThrottleRate ?? 0)) {
        stats.throttled += items.length;
        return reply(429, { error: 'slow down' }, { 'retry-after': String(retryAfterSeconds) });
      }
      const results = items.map((item) => {
        const message = parseMessage(JSON.stringify(item.text));
        if (message === undefined || refusedNumbers.has(message.to)) {
          stats.refused++;
          return { id: item.id, status: 'refused', error: message === undefined ? 'malformed text' : 'recipient refused' };
        }
        const itemRoll = random();
        if (itemRoll < failureRate) {
          stats.failed++;
          return { id: item.id, status: 'failed', error: 'provider hiccup' };
        }
        if (itemRoll < failureRate + throttleRate) {
          stats.throttled++;
          return { id: item.id, status: 'throttled', retryAfterSeconds };
        }
        stats.accepted++;
        stats.delivered.set(message.to, (stats.delivered.get(message.to) ?? 0) + 1);
        if (acceptedKeys.has(item.id)) stats.duplicates++;
        acceptedKeys.add(item.id);
        return { id: item.id, status: 'accepted', providerId: `fake-${stats.accepted}` };
      });
      return reply(200, { results });
    }
  });

  const base = await listenOnLoopback(server, options.port);
  return {
    url: `${base}/messages`,
    bulkUrl: `${base}/messages/bulk`,
    stats: () => ({ ...stats, delivered: new Map(stats.delivered) }),
    close: () => closeServer(server),
  };
}

function parseMessage(text: string): { to: string; body: string } | undefined {
  try {
    const value = JSON.parse(text) as { to?: unknown; body?: unknown };
    if (typeof value.to !== 'string' || !E164.test(value.to)) return undefined;
    if (typeof value.body !== 'string' || value.body.length < 1 || value.body.length > 1_600) return undefined;
    return { to: value.to, body: value.body };
  } catch {
    return undefined;
  }
}

/** A bulk request's texts, each with its id (its idempotency key); undefined when the request itself is malformed. */
function parseBulk(text: string): { id: string; text: unknown }[] | undefined {
  try {
    const value = JSON.parse(text) as { messages?: unknown };
    if (!Array.isArray(value.messages) || value.messages.length < 1 || value.messages.length > 1_000) return undefined;
    const items: { id: string; text: unknown }[] = [];
    for (const item of value.messages as unknown[]) {
      if (typeof item !== 'object' || item === null || typeof (item as { id?: unknown }).id !== 'string') return undefined;
      items.push({ id: (item as { id: string }).id, text: item });
    }
    return items;
  } catch {
    return undefined;
  }
}

/** A small seeded PRNG (mulberry32): repeatable answers without a dependency. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
