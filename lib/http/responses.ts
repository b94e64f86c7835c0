import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export type HttpResponse = APIGatewayProxyStructuredResultV2;

/** A JSON response. Every answer of this API, errors included, is one of these. */
export function jsonResponse(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export const ok = (body: unknown): HttpResponse => jsonResponse(200, body);

/** Accepted for later delivery: the answer to an enqueue. */
export const accepted = (body: unknown): HttpResponse => jsonResponse(202, body);
