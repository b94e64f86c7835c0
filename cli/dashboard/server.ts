/**
 * The dashboard: a page on 127.0.0.1 that shows every queue and steers them (redrive, purge,
 * pause, resume) through the same operations as the API and the CLI, with the operator's own
 * Data API access. Operator tooling, never deployed: nothing of it is exposed in AWS.
 *
 * The page is three static files (static/), served from memory; it loads nothing else, from here
 * or from the network, so it works offline and has no dependency to keep up to date. Its charts
 * are a few dozen lines of hand-drawn SVG: a chart library would be more code than the charts.
 *
 * Only the operator's own browser should be able to act through it, so on top of listening on
 * the loopback interface it refuses requests whose Host is not this server (DNS rebinding), and
 * changes only for JSON requests from its own origin (another site's page cannot send one
 * without a CORS preflight, which is never granted). The page's CSP allows its own script only.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { App } from '../../lib/app.js';
import { checkJsonContentType, HttpError, parseJsonBody, PayloadTooLargeError, responseForError, type HttpResponse } from '../../lib/http/index.js';
import { createApi } from './api.js';

export interface DashboardOptions {
  app: App;
  /** 0 picks a free port. */
  port: number;
  /** Where the dashboard points (`database aurora_queue via ...`), shown in the page's header. */
  target: string;
  /** How often the page refreshes itself; default 5 s. */
  refreshSeconds?: number;
  /** Faults the page only sees as "internal error" are written here, with their stack. */
  log?: (line: string) => void;
}

export interface Dashboard {
  /** `http://127.0.0.1:<port>/` */
  url: string;
  port: number;
  close(): Promise<void>;
}

export const DEFAULT_DASHBOARD_PORT = 4000;
const HOST = '127.0.0.1';
/** Bodies are small: at most 1,000 ids. The HTTP API allows the same. */
const MAX_BODY_BYTES = 65_536;

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
  '/favicon.svg': { file: 'favicon.svg', type: 'image/svg+xml' },
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Resolves once the server listens; rejects with the listen error (EADDRINUSE) otherwise. */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const files = new Map(
    Object.entries(STATIC_FILES).map(([path, { file, type }]) => [path, { type, body: readFileSync(new URL(`./static/${file}`, import.meta.url)) }]),
  );
  const api = createApi({ app: options.app, target: options.target, refreshSeconds: options.refreshSeconds ?? 5 });
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let port = options.port;

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      log(`dashboard: ${request.method} ${request.url}: answering failed: ${error instanceof Error ? error.stack : String(error)}`);
      response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', `http://${HOST}:${port}`);
    let answer: HttpResponse;
    try {
      checkHost(request, port);
      const file = files.get(url.pathname);
      if (file !== undefined && (method === 'GET' || method === 'HEAD')) {
        response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-cache', ...SECURITY_HEADERS });
        response.end(method === 'HEAD' ? undefined : file.body);
        return;
      }
      const changes = method !== 'GET' && method !== 'HEAD';
      if (changes) checkOrigin(request, port);
      const body = changes ? await readJsonBody(request) : undefined;
      answer = await api({ method, path: url.pathname, query: url.searchParams, body });
    } catch (error) {
      answer = responseForError(error, (level, message, fault) => {
        const detail = fault instanceof Error ? (level === 'error' ? fault.stack : `${fault.name}: ${fault.message}`) : String(fault);
        log(`dashboard: ${method} ${url.pathname}: ${message}: ${detail}`);
      });
    }
    response.writeHead(answer.statusCode ?? 200, { ...(answer.headers as Record<string, string>), ...SECURITY_HEADERS });
    response.end(answer.body);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as { port: number }).port;
  return {
    url: `http://${HOST}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The names this server answers to; a page on another name (DNS rebinding) is refused. */
function checkHost(request: IncomingMessage, port: number): void {
  const host = request.headers.host;
  if (host !== `${HOST}:${port}` && host !== `localhost:${port}`) {
    throw new HttpError(403, { code: 'forbidden', message: `this dashboard answers to ${HOST}:${port} only` });
  }
}

/** A change must come from the page itself: a browser names the origin of a cross-site request. */
function checkOrigin(request: IncomingMessage, port: number): void {
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== `http://${HOST}:${port}` && origin !== `http://localhost:${port}`) {
    throw new HttpError(403, { code: 'forbidden', message: 'changes are accepted from the dashboard page only' });
  }
}

/**
 * The body of a change, parsed as the HTTP API parses one (lib/http's parseJsonBody). It must be
 * JSON (application/json) even when empty, since a page of another site cannot send that here
 * without asking first; an empty body is undefined. Reading stops past the limit.
 */
async function readJsonBody(request: IncomingMessage): Promise<unknown> {
  const contentType = request.headers['content-type'];
  checkJsonContentType(contentType);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new PayloadTooLargeError(`the body is over ${MAX_BODY_BYTES} bytes`, 'body');
    chunks.push(chunk);
  }
  // As base64, as API Gateway passes a binary body: its bytes are then decoded as strict UTF-8.
  const headers = { 'content-type': contentType, 'content-encoding': request.headers['content-encoding'] };
  return parseJsonBody({ body: Buffer.concat(chunks).toString('base64'), isBase64Encoded: true, headers }, { maxBytes: MAX_BODY_BYTES, required: false });
}
