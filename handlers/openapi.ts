import { jsonResponse, type HttpResponse } from '../lib/http/index.js';
import { buildOpenApi } from '../schema/openapi.js';

/** What this handler validates: nothing (the document takes no input). */
export const ROUTE_SCHEMAS = { 'GET /openapi.json': {} };

/** The API's version, as the document states it. */
export const API_VERSION = '1.0.0';

/** Built once per execution environment, from the same zod schemas that validate the requests. */
let document: Record<string, unknown> | undefined;

/** GET /openapi.json: the API's OpenAPI 3.1 document (also written to schema/openapi.json by npm run openapi). */
export async function handler(): Promise<HttpResponse> {
  document ??= buildOpenApi(API_VERSION);
  return jsonResponse(200, document);
}
