import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ValidationError } from '../errors.js';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js';
import type { HttpResponse } from './responses.js';

export interface JsonBodyOptions {
  /** Bytes of body accepted (after base64 decoding); more is refused with 413 before parsing. */
  maxBytes: number;
  /** A missing or empty body is refused (400). When false, it leaves `event.body` undefined. */
  required: boolean;
}

const JSON_MEDIA_TYPE = /^application\/json\s*(;|$)/i;
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/**
 * Replaces `event.body` with the parsed JSON. Stricter than @middy/http-json-body-parser where a
 * queue needs it: the size is checked before parsing, a base64 body (API Gateway sends one when
 * it takes the body for binary) is decoded, and bytes that are not UTF-8 are refused rather than
 * stored as U+FFFD, and a compressed body (any content-encoding but identity) is refused.
 */
export function jsonBody(options: JsonBodyOptions): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> {
  return {
    name: 'jsonBody',
    before: (request) => {
      (request.event as { body: unknown }).body = parseJsonBody(request.event, options);
    },
  };
}

/** The body of an event (or of any request put in its shape), parsed as jsonBody does: undefined when absent and not required. */
export function parseJsonBody(event: Pick<APIGatewayProxyEventV2, 'body' | 'headers' | 'isBase64Encoded'>, options: JsonBodyOptions): unknown {
  const raw = event.body;
  if (raw === undefined || raw === null || raw === '') {
    if (options.required) throw new ValidationError([{ field: 'body', rule: 'required', message: 'a JSON body is required' }]);
    return undefined;
  }
  checkJsonContentType(header(event, 'content-type'));
  // API Gateway hands the body on as sent: a compressed body would be parsed (or stored) as
  // if it were the JSON text. RFC 7694: answer 415 and say which codings are accepted.
  const encoding = header(event, 'content-encoding')?.trim();
  if (encoding !== undefined && encoding !== '' && encoding.toLowerCase() !== 'identity') {
    throw new UnsupportedMediaTypeError(
      `content-encoding "${encoding}" is not supported; send the body uncompressed (content-encoding: identity, or no content-encoding header)`,
      {
        field: 'content-encoding',
        rule: 'identity',
        headers: { 'accept-encoding': 'identity' },
      },
    );
  }

  const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.length > options.maxBytes) {
    throw new PayloadTooLargeError(`the body is ${bytes.length} bytes; the limit is ${options.maxBytes} bytes${inMiB(options.maxBytes)} per request`, 'body');
  }
  const text = event.isBase64Encoded ? decodeUtf8(bytes) : raw;
  if (!event.isBase64Encoded && /\p{Surrogate}/u.test(text)) {
    throw new ValidationError([{ field: 'body', rule: 'utf8', message: 'the body is not valid UTF-8' }]);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ValidationError([{ field: 'body', rule: 'json', message: `the body is not valid JSON (${(error as Error).message})` }]);
  }
}

/** Refuses (415) a content type other than application/json, or a charset other than UTF-8. */
export function checkJsonContentType(contentType: string | undefined): void {
  if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType)) {
    throw new UnsupportedMediaTypeError(`content-type must be application/json, got ${contentType === undefined ? 'none' : `"${contentType}"`}`);
  }
  const charset = CHARSET.exec(contentType)?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new UnsupportedMediaTypeError(`content-type charset must be utf-8, got "${charset}"`);
  }
}

function decodeUtf8(bytes: Buffer): string {
  try {
    // ignoreBOM false: a leading byte order mark is dropped, which JSON.parse would choke on.
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError([{ field: 'body', rule: 'utf8', message: 'the body is not valid UTF-8' }]);
  }
}

/** Header names in an HTTP API event are lower case; a hand-made event may not be. */
export function header(event: Pick<APIGatewayProxyEventV2, 'headers'>, name: string): string | undefined {
  const headers = event.headers ?? {};
  const direct = headers[name];
  if (direct !== undefined) return direct;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

function inMiB(bytes: number): string {
  return bytes % 1_048_576 === 0 ? ` (${bytes / 1_048_576} MiB)` : '';
}
