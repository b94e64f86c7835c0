import { createServer, type IncomingHttpHeaders } from 'node:http';
import { closeServer, listenOnLoopback, readBody } from './loopback.js';

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/hook?x=1`. */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface TestResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** `'hang'`: never answer (until the client gives up or the server closes). */
export type TestReply = TestResponse | 'hang';

/** Called per request with the request and its 0-based index. */
export type Responder = (request: RecordedRequest, index: number) => TestReply | Promise<TestReply>;

export interface TestHttpServer {
  /** Base URL, `http://127.0.0.1:<port>`. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server scripted per request: a Responder, one reply for every request, or a
 * list of replies taken in order (the last one repeats).
 */
export async function startTestHttpServer(script: Responder | TestReply | readonly TestReply[]): Promise<TestHttpServer> {
  const respond: Responder =
    typeof script === 'function'
      ? script
      : Array.isArray(script)
        ? (_request, index) => script[Math.min(index, script.length - 1)] as TestReply
        : () => script as TestReply;
  const requests: RecordedRequest[] = [];

  const server = createServer((request, response) => {
    void (async () => {
      const recorded: RecordedRequest = {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        headers: request.headers,
        body: await readBody(request),
      };
      requests.push(recorded);
      const reply = await respond(recorded, requests.length - 1);
      if (reply === 'hang') return;
      response.writeHead(reply.status, reply.headers);
      response.end(reply.body ?? '');
    })().catch((error: unknown) => {
      response.writeHead(599);
      response.end(String(error));
    });
  });

  const url = await listenOnLoopback(server);
  return { url, requests, close: () => closeServer(server) };
}
