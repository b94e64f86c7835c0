/**
 * The OpenAPI document, serverless.yml's routes and the handlers' schemas must agree: a route
 * added, removed or re-validated in one place and not the others fails here.
 */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ROUTE_SCHEMAS as cancelMessage } from '../handlers/cancelMessage.js';
import { ROUTE_SCHEMAS as deadLetters } from '../handlers/deadLetters.js';
import { ROUTE_SCHEMAS as enqueue } from '../handlers/enqueue.js';
import { ROUTE_SCHEMAS as getMessage } from '../handlers/getMessage.js';
import { ROUTE_SCHEMAS as groups } from '../handlers/groups.js';
import { API_VERSION, handler as openapiHandler, ROUTE_SCHEMAS as openapi } from '../handlers/openapi.js';
import { ROUTE_SCHEMAS as queueControl } from '../handlers/queueControl.js';
import { ROUTE_SCHEMAS as stats } from '../handlers/stats.js';
import { buildOpenApi } from '../schema/openapi.js';
import { ROUTES } from '../schema/routes.js';

const root = new URL('..', import.meta.url);
const HANDLERS: Record<string, Record<string, { path?: unknown; query?: unknown; body?: unknown }>> = {
  cancelMessage,
  deadLetters,
  enqueue,
  getMessage,
  groups,
  openapi,
  queueControl,
  stats,
};

/** `function → [METHOD /path]` from serverless.yml's httpApi events (the file is plain enough to read by line). */
async function serverlessRoutes(): Promise<string[]> {
  const text = await readFile(new URL('serverless.yml', root), 'utf8');
  const functions = text.slice(text.indexOf('\nfunctions:'), text.indexOf('\nresources:'));
  const routes: string[] = [];
  let current = '';
  let method = '';
  for (const line of functions.split('\n')) {
    const fn = /^ {2}([A-Za-z]+):\s*$/.exec(line);
    if (fn) current = fn[1]!;
    const m = /^\s+method: (\w+)/.exec(line);
    if (m) method = m[1]!;
    const p = /^\s+path: (\S+)/.exec(line);
    if (p) routes.push(`${current} ${method} ${p[1]}`);
  }
  return routes.sort();
}

describe('the HTTP API description', () => {
  it('has exactly the routes serverless.yml deploys, served by the same functions', async () => {
    expect(ROUTES.map((r) => `${r.function} ${r.method} ${r.path}`).sort()).toEqual(await serverlessRoutes());
  });

  it('documents what each handler validates, with the very same schemas', () => {
    const handled = Object.values(HANDLERS)
      .flatMap((routes) => Object.keys(routes))
      .sort();
    expect(handled).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const route of ROUTES) {
      const schemas = HANDLERS[route.function]![`${route.method} ${route.path}`]!;
      expect(schemas.path, `${route.method} ${route.path} path`).toBe(route.params);
      expect(schemas.query, `${route.method} ${route.path} query`).toBe(route.query);
      // The enqueue body is checked by lib/enqueue against each message's own type.
      if (route.function !== 'enqueue') expect(schemas.body, `${route.method} ${route.path} body`).toBe(route.body);
    }
  });

  it('is current in schema/openapi.json (npm run openapi writes it)', async () => {
    const committed = JSON.parse(await readFile(new URL('schema/openapi.json', root), 'utf8'));
    expect(committed).toEqual(buildOpenApi(API_VERSION));
  });

  it('is OpenAPI 3.1 with every route, and GET /openapi.json serves it', async () => {
    const response = await openapiHandler();
    expect(response.statusCode).toBe(200);
    const document = JSON.parse(response.body!);
    expect(document.openapi).toBe('3.1.0');
    for (const route of ROUTES) expect(document.paths[route.path][route.method.toLowerCase()], `${route.method} ${route.path}`).toBeDefined();
    const enqueueBody = document.paths['/queues/{queue}/messages'].post.requestBody.content['application/json'].schema;
    expect(JSON.stringify(enqueueBody)).toContain('dedupKey');
  });
});
