/**
 * A Data API that misbehaves in ways the local server has no switch for: an HTTP proxy in front
 * of it whose rules rewrite a call's request or its answer (a lower response limit, error
 * messages in another format). Tests point the SDK at `url` instead of the server's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedAnswer {
  status: number;
  /** The Data API's error name (x-amzn-ErrorType), when the call failed. */
  errorType: string | undefined;
  body: string;
}

export interface ProxyRules {
  /** The request body (JSON text) as forwarded. */
  request?: (operation: string, body: string) => string;
  /** The answer as returned to the client. */
  answer?: (operation: string, answer: ProxiedAnswer) => ProxiedAnswer;
}

export interface DataApiProxy {
  url: string;
  close(): Promise<void>;
}

export async function startDataApiProxy(target: string, rules: ProxyRules): Promise<DataApiProxy> {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const operation = (request.url ?? '/').slice(1);
      const body = Buffer.concat(chunks).toString('utf8');
      void forward(operation, body).then(
        (answer) => {
          const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer.body) };
          if (answer.errorType !== undefined) headers['x-amzn-ErrorType'] = answer.errorType;
          response.writeHead(answer.status, headers).end(answer.body);
        },
        (error: unknown) => response.writeHead(502).end(String(error)),
      );
    });
    const forward = async (operation: string, body: string): Promise<ProxiedAnswer> => {
      const sent = rules.request?.(operation, body) ?? body;
      const upstream = await fetch(`${target}${request.url ?? '/'}`, {
        method: request.method,
        headers: { 'content-type': 'application/json' },
        body: request.method === 'GET' ? undefined : sent,
      });
      const answer = { status: upstream.status, errorType: upstream.headers.get('x-amzn-errortype') ?? undefined, body: await upstream.text() };
      return rules.answer?.(operation, answer) ?? answer;
    };
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Answers over `bytes` fail as the Data API fails a response over its limit. */
export function responseLimit(bytes: number): ProxyRules {
  return {
    answer: (_operation, answer) =>
      answer.status === 200 && Buffer.byteLength(answer.body) > bytes
        ? { status: 400, errorType: 'BadRequestException', body: JSON.stringify({ message: 'Database response exceeded size limit' }) }
        : answer,
  };
}

/** SQL errors come back with a message that names neither the MySQL code nor MySQL's text. */
export function errorsWithoutDetail(): ProxyRules {
  return {
    answer: (_operation, answer) =>
      answer.errorType === 'DatabaseErrorException' ? { ...answer, body: JSON.stringify({ message: 'The statement failed' }) } : answer,
  };
}
