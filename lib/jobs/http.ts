import type { LookupFunction } from 'node:net';
import type { Agent } from 'undici';
import { clip } from '../clip.js';
import { PermanentError, RetryableError, type QueueError } from '../errors.js';

/** Statuses that can get better by waiting: timeout, too early, throttled, and any server error. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * Retry-After as milliseconds from `nowMs`: delta-seconds (`120`) or an HTTP-date
 * (`Wed, 21 Oct 2026 07:28:00 GMT`; a past date means now). Undefined when absent or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1_000;
  // All three HTTP-date forms start with a day name; Date.parse alone also "reads" things like "1.5".
  if (!/^[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * The error for a response that is not 2xx: retryable (honouring Retry-After) when waiting can
 * help, permanent otherwise. Redirects count as permanent: they are not followed, because a
 * redirect could lead past a host allow-list.
 */
export function errorForResponse(
  target: string,
  response: { status: number; retryAfter?: string | null; detail?: string },
  nowMs: number = Date.now(),
): QueueError {
  const detail = response.detail ? `: ${response.detail}` : '';
  if (response.status >= 300 && response.status < 400) {
    return new PermanentError(`${target} answered ${response.status} (redirects are not followed)${detail}`);
  }
  const message = `${target} answered ${response.status}${detail}`;
  if (!isRetryableStatus(response.status)) return new PermanentError(message);
  const retryAfterMs = parseRetryAfter(response.retryAfter, nowMs);
  return new RetryableError(message, retryAfterMs === undefined ? {} : { retryAfterMs });
}

/** One request as sendJson sends it. */
export interface HttpRequest {
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /**
   * Resolves the host for a new connection (see addressLookup.ts), which then goes to the address
   * it answered; default: the system resolver.
   */
  lookup?: LookupFunction | undefined;
}

/** An answer: its body is either read (as far as the reader wants) or discarded, once. */
export interface HttpAnswer {
  status: number;
  /** By lower-case name. */
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Uint8Array>;
  /** Throws the body away so that the connection can carry the next request. */
  discard(): Promise<void>;
}

/** Sends one request and resolves with the answer; never follows redirects. Rejects on network failure or abort. */
export type HttpTransport = (request: HttpRequest) => Promise<HttpAnswer>;

/**
 * The built-in job types' transport: undici's `request()` over an Agent (a kept-alive pool per
 * origin), one Agent per request `lookup`. Measured with `npm run bench -- --only=delivery` (50 in
 * flight, a local receiver answering 204 in its own process, 2 shared cores, medians of 3):
 * global fetch 2,500 requests/s at 360 µs of client CPU each, node:http with a keep-alive agent
 * 7,100 at 93 µs, undici's Agent 19,600 at 33 µs. Draining 10,000 webhooks at concurrency 50
 * (alternating runs) with this transport: 2,700–3,200 messages/s at 180–230 µs of client CPU
 * each; with node:http 2,000 at 315 µs; with fetch (before) 1,500 at 530–740 µs. The cost: undici
 * adds about 190 KB to every zip (each function loads the job types), so it is imported on first
 * use, which keeps it out of cold starts that deliver nothing (imported eagerly it adds about
 * 50 ms).
 */
export function undiciTransport(): HttpTransport {
  // An Agent's connections all resolve with its lookup; a job type uses one or two.
  const agents = new Map<LookupFunction | undefined, Promise<Agent>>();
  const targetOf = rememberedByUrl((url) => {
    const parsed = new URL(url);
    return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}` };
  });
  return async (request) => {
    let agent = agents.get(request.lookup);
    if (agent === undefined) {
      const lookup = request.lookup;
      agent = import('undici').then((undici) => new undici.Agent(lookup === undefined ? {} : { connect: { lookup } }));
      agents.set(lookup, agent);
    }
    const { origin, path } = targetOf(request.url);
    const response = await (
      await agent
    ).request({
      origin,
      path,
      method: request.method,
      headers: request.headers,
      body: request.body,
      signal: request.signal,
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body,
      // Reads and drops up to 128 KB, keeping the socket; a bigger body closes it.
      discard: () => response.body.dump(),
    };
  };
}

/**
 * `compute` remembered by URL, for the few URLs a job type mostly sends to: each message's URL is
 * otherwise parsed (and matched) again, several times per message. At most 1,000 URLs of up to
 * 2,048 characters are kept; the map is cleared rather than evicted one by one when full, since a
 * full map means many distinct URLs, which have to be parsed anyway.
 */
export function rememberedByUrl<T>(compute: (url: string) => T): (url: string) => T {
  const remembered = new Map<string, T>();
  return (url) => {
    let value = remembered.get(url);
    if (value === undefined) {
      value = compute(url);
      if (url.length > 2_048) return value;
      if (remembered.size >= 1_000) remembered.clear();
      remembered.set(url, value);
    }
    return value;
  };
}

export interface JsonRequest {
  transport: HttpTransport;
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  /** Already serialized, so a signature can cover the exact bytes sent. */
  body: string;
  signal: AbortSignal;
  /** Names the downstream in errors, e.g. `webhook https://example.com`; never put secrets in it. */
  target: string;
  /** See HttpRequest.lookup. */
  lookup?: LookupFunction | undefined;
}

/**
 * Sends a JSON body and resolves on 2xx. Throws a RetryableError for network failures and
 * retryable statuses, a PermanentError for the rest (see errorForResponse) and for a connection
 * the lookup refused (an address that may not be reached).
 */
export async function sendJson(request: JsonRequest): Promise<void> {
  const answer = await exchange(request);
  // Discarded rather than read: the socket goes back to the pool, the body does not matter.
  await answer.discard().catch(() => {});
}

/**
 * As sendJson, and resolves with the 2xx answer's body as text, for a downstream whose answer
 * says what happened (a bulk endpoint's per-item results). A body over `maxBytes` is a
 * RetryableError: what it said cannot be known, and the request may be sent again.
 */
export async function sendJsonReadingAnswer(request: JsonRequest, maxBytes: number): Promise<string> {
  const answer = await exchange(request);
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  try {
    for await (const chunk of answer.body) {
      bytes += chunk.byteLength;
      if (bytes > maxBytes) throw new RetryableError(`${request.target} answered more than ${maxBytes} bytes`);
      text += decoder.decode(chunk, { stream: true });
    }
  } catch (error) {
    if (error instanceof RetryableError) throw error;
    throw new RetryableError(`reading the answer of ${request.target} failed: ${networkReason(error)}`, { cause: error });
  }
  return text + decoder.decode();
}

/** Sends the request; resolves with a 2xx answer, its body unread, or throws as sendJson says. */
async function exchange(request: JsonRequest): Promise<HttpAnswer> {
  let answer: HttpAnswer;
  try {
    answer = await request.transport({
      url: request.url,
      method: request.method,
      headers: { 'content-type': 'application/json', ...request.headers },
      body: request.body,
      signal: request.signal,
      lookup: request.lookup,
    });
  } catch (error) {
    if (error instanceof PermanentError) throw new PermanentError(`request to ${request.target} refused: ${error.message}`, { cause: error });
    const verb = request.signal.aborted ? 'aborted' : 'failed';
    throw new RetryableError(`request to ${request.target} ${verb}: ${networkReason(error)}`, { cause: error });
  }

  if (answer.status >= 200 && answer.status < 300) return answer;
  const detail = await readSnippet(answer.body);
  const retryAfter = answer.headers['retry-after'];
  throw errorForResponse(request.target, { status: answer.status, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined, detail });
}

const SNIPPET_CHARS = 200;

/** The start of an error response's body, on one line: often says why. */
async function readSnippet(body: AsyncIterable<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  try {
    // Leaving the loop early destroys the body: the rest is not worth a socket's wait.
    for await (const chunk of body) {
      text += decoder.decode(chunk, { stream: true });
      if (text.length >= SNIPPET_CHARS) break;
    }
  } catch {
    // The body is only a hint; the status already decided the outcome.
  }
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return clip(oneLine, { chars: SNIPPET_CHARS });
}

/** Name and message, and the cause's when there is one (fetch-style errors say only "fetch failed"). */
function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}
