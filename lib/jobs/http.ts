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

export interface JsonRequest {
  fetch: typeof fetch;
  url: string;
  method: 'POST' | 'PUT';
  headers: Record<string, string>;
  /** Already serialized, so a signature can cover the exact bytes sent. */
  body: string;
  signal: AbortSignal;
  /** Names the downstream in errors, e.g. `webhook https://example.com`; never put secrets in it. */
  target: string;
}

/**
 * Sends a JSON body and resolves on 2xx. Throws a RetryableError for network failures and
 * retryable statuses, a PermanentError for the rest (see errorForResponse).
 */
export async function sendJson(request: JsonRequest): Promise<void> {
  let response: Response;
  try {
    response = await request.fetch(request.url, {
      method: request.method,
      headers: { 'content-type': 'application/json', ...request.headers },
      body: request.body,
      signal: request.signal,
      redirect: 'manual',
    });
  } catch (error) {
    const verb = request.signal.aborted ? 'aborted' : 'failed';
    throw new RetryableError(`request to ${request.target} ${verb}: ${networkReason(error)}`, { cause: error });
  }

  if (response.ok) {
    // Drained rather than read: the socket goes back to the pool, the body does not matter.
    await response.body?.cancel().catch(() => {});
    return;
  }
  const detail = await readSnippet(response);
  throw errorForResponse(request.target, { status: response.status, retryAfter: response.headers.get('retry-after'), detail });
}

const SNIPPET_CHARS = 200;

/** The start of an error response's body, on one line: often says why. */
async function readSnippet(response: Response): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) return '';
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (text.length < SNIPPET_CHARS) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // The body is only a hint; the status already decided the outcome.
  } finally {
    await reader.cancel().catch(() => {});
  }
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > SNIPPET_CHARS ? `${oneLine.slice(0, SNIPPET_CHARS)}…` : oneLine;
}

/** undici says only "fetch failed"; the cause says what (ECONNREFUSED, ENOTFOUND, ...). */
function networkReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.name}: ${error.message}${cause}`;
}
