/**
 * A local stand-in for the RDS Data API (restJson1 over HTTP), running SQL on MySQL/MariaDB.
 * The real `@aws-sdk/client-rds-data` client talks to it with `endpoint: server.url` and any
 * static credentials (signatures are not checked, nor ARNs or secrets).
 *
 * Besides the Data API it serves `/_local/*` for tests: fault injection, latency and stats.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type mysql from 'mysql2';
import { createPool, getSession, type Session } from './connections.js';
import {
  DataApiError,
  badRequest,
  databaseResuming,
  fromMysqlError,
  internalServerError,
  isFatal,
  isSqlError,
  notFound,
  serviceUnavailable,
} from './errors.js';
import { Faults, validateRule, type FaultInjector } from './faults.js';
import { bindParameters, parseSql } from './parameters.js';
import { batchExecuteRequest, beginTransactionRequest, endTransactionRequest, executeRequest } from './requests.js';
import { executeResponse } from './results.js';
import { ENDED, Transactions } from './transactions.js';

export type { FaultInjector, FaultKind, FaultRule } from './faults.js';

export interface LocalDataApiOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 8087; 0 picks a free port. */
  port?: number;
  /** Default process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306'. */
  databaseUrl?: string;
  /** Added to every Data API call (stands in for the network to AWS); default 0. */
  latencyMs?: number;
  /** Default 180_000 (3 min), then automatic rollback. */
  transactionIdleTimeoutMs?: number;
  /** Default 45_000. */
  callTimeoutMs?: number;
  /** MySQL connections, shared by calls and pinned by open transactions; default 20. */
  connectionLimit?: number;
  /**
   * Refuse result rows over 64 KB, as AWS documents (default true, so the product's tests prove
   * it never needs more). false behaves as Aurora MySQL 3 clusters were seen to by a client's
   * integration suite, for client libraries that read big rows (LOCAL_DATA_API_ROW_LIMIT=off).
   */
  rowLimit?: boolean;
}

export interface LocalDataApi {
  /** e.g. 'http://127.0.0.1:43121' */
  url: string;
  port: number;
  faults: FaultInjector;
  setLatency(ms: number): void;
  stats(): { calls: number; byOperation: Record<string, number>; openTransactions: number };
  /** Stops listening, rolls back open transactions, ends the pool. */
  close(): Promise<void>;
}

const OPERATIONS: Record<string, string> = {
  '/Execute': 'Execute',
  '/BatchExecute': 'BatchExecute',
  '/BeginTransaction': 'BeginTransaction',
  '/CommitTransaction': 'CommitTransaction',
  '/RollbackTransaction': 'RollbackTransaction',
  '/ExecuteSql': 'ExecuteSql',
};

/** The documented HTTP request limit (headers included there; the body alone here). */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** MySQL rolled the whole transaction back (deadlock), or its connection is gone. */
const abortsTransaction = (error: unknown) => (isSqlError(error) && error.errno === 1213) || isFatal(error);

export async function startLocalDataApi(options: LocalDataApiOptions = {}): Promise<LocalDataApi> {
  const databaseUrl = options.databaseUrl ?? process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';
  const callTimeoutMs = options.callTimeoutMs ?? 45_000;
  let latencyMs = options.latencyMs ?? 0;

  const pool = createPool(databaseUrl, options.connectionLimit ?? 20);
  const transactions = new Transactions(options.transactionIdleTimeoutMs ?? 180_000);
  const faults = new Faults();
  // Shaped like an Aurora instance resource id, for the DatabaseResumingException text.
  const instanceId = `db-${randomBytes(16).toString('hex').toUpperCase().slice(0, 26)}`;
  const counts = { calls: 0, byOperation: {} as Record<string, number> };

  const newSession = () => getSession(pool, databaseUrl);

  /**
   * Runs `work` on the transaction's connection, or on a pooled one. A transaction stays busy
   * until its statement has finished, which after a continueAfterTimeout timeout is later than
   * the call's answer.
   */
  async function withSession<T>(transactionId: string | undefined, database: string | undefined, work: (session: Session) => Promise<T>): Promise<T> {
    if (transactionId === undefined) {
      const session = await newSession().catch((error: unknown) => {
        throw fromMysqlError(error);
      });
      try {
        await session.useDatabase(database);
        return await work(session);
      } catch (error) {
        throw fromMysqlError(error);
      } finally {
        void session.release();
      }
    }
    const transaction = transactions.enter(transactionId);
    let abortReason: string | undefined;
    let timedOut = false;
    try {
      await transaction.session.useDatabase(database);
      return await work(transaction.session);
    } catch (error) {
      if (abortsTransaction(error)) abortReason = ENDED.aborted;
      timedOut = error instanceof DataApiError && error.name === 'StatementTimeoutException';
      throw fromMysqlError(error);
    } finally {
      const leaving = transactions.leave(transaction, abortReason);
      if (!timedOut) await leaving;
    }
  }

  async function execute(body: unknown): Promise<string> {
    const request = executeRequest(body);
    const template = parseSql(request.sql);
    const values = bindParameters(template, request.parameters);
    return withSession(request.transactionId, request.database, async (session) =>
      executeResponse(await session.run(template.sql, values, callTimeoutMs, request.continueAfterTimeout), {
        ...request,
        rowLimit: options.rowLimit !== false,
      }),
    );
  }

  /**
   * One statement per parameter set, in order, on one connection. Without a transactionId the
   * sets run in one implicit transaction: all or nothing. (AWS does not document whether a
   * failing set leaves the earlier ones applied; all-or-nothing is what a JDBC executeBatch
   * with autocommit off gives, and the safer assumption for callers.)
   */
  async function batchExecute(body: unknown): Promise<string> {
    const request = batchExecuteRequest(body);
    const template = parseSql(request.sql);
    const valueSets = request.parameterSets.map((set) => bindParameters(template, set));
    // No parameter set: nothing runs ("specify one or more empty parameter sets" to run once).
    if (valueSets.length === 0) return JSON.stringify({ updateResults: [] });
    return withSession(request.transactionId, request.database, async (session) => {
      const deadline = Date.now() + callTimeoutMs;
      const implicit = request.transactionId === undefined;
      const updateResults: { generatedFields: { longValue: number }[] }[] = [];
      if (implicit) await session.query('START TRANSACTION');
      try {
        for (const values of valueSets) {
          const { header } = await session.run(template.sql, values, deadline - Date.now(), false);
          updateResults.push({ generatedFields: header !== undefined && header.insertId > 0 ? [{ longValue: header.insertId }] : [] });
        }
        if (implicit) await session.query('COMMIT');
      } catch (error) {
        if (implicit) await session.query('ROLLBACK').catch(() => {});
        throw error;
      }
      return JSON.stringify({ updateResults });
    });
  }

  async function beginTransaction(body: unknown): Promise<string> {
    const request = beginTransactionRequest(body);
    const session = await newSession().catch((error: unknown) => {
      throw fromMysqlError(error);
    });
    try {
      await session.useDatabase(request.database);
      await session.query('START TRANSACTION');
    } catch (error) {
      void session.release();
      throw fromMysqlError(error);
    }
    return JSON.stringify({ transactionId: transactions.begin(session) });
  }

  async function commitTransaction(body: unknown): Promise<string> {
    const request = endTransactionRequest(body);
    const transaction = transactions.enter(request.transactionId);
    try {
      await transaction.session.query('COMMIT');
    } catch (error) {
      await transactions.close(transaction, ENDED.aborted, 'ROLLBACK');
      throw fromMysqlError(error);
    }
    await transactions.close(transaction, ENDED.committed);
    return JSON.stringify({ transactionStatus: 'Transaction Committed' });
  }

  async function rollbackTransaction(body: unknown): Promise<string> {
    const request = endTransactionRequest(body);
    const transaction = transactions.enter(request.transactionId);
    // A failed ROLLBACK means the connection is gone, which rolls the transaction back too.
    await transactions.close(transaction, ENDED.rolledBack, 'ROLLBACK');
    return JSON.stringify({ transactionStatus: 'Rollback Complete' });
  }

  async function executeSql(): Promise<string> {
    throw notFound("ExecuteSql is not implemented: it isn't supported for Aurora Serverless v2 and provisioned DB clusters. Use ExecuteStatement.");
  }

  const handlers: Record<string, (body: unknown) => Promise<string>> = {
    Execute: execute,
    BatchExecute: batchExecute,
    BeginTransaction: beginTransaction,
    CommitTransaction: commitTransaction,
    RollbackTransaction: rollbackTransaction,
    ExecuteSql: executeSql,
  };

  async function callOperation(operation: string, request: http.IncomingMessage): Promise<string> {
    counts.calls++;
    counts.byOperation[operation] = (counts.byOperation[operation] ?? 0) + 1;
    const body = await readJson(request);
    if (latencyMs > 0) await sleep(latencyMs);
    const sql = (body as { sql?: unknown } | null)?.sql;
    const fault = faults.take(operation, typeof sql === 'string' ? sql : undefined);
    switch (fault?.kind) {
      case 'resuming':
        throw databaseResuming(instanceId);
      case 'unavailable':
        throw serviceUnavailable();
      case 'internal':
        throw internalServerError();
      case 'delay':
        await sleep(fault.delayMs ?? 0);
        break;
      case 'unavailable-after':
        // The call runs to completion, then its answer is lost.
        await handlers[operation]!(body).catch(() => {});
        throw serviceUnavailable();
      case undefined:
        // No fault for this call.
        break;
    }
    return handlers[operation]!(body);
  }

  function stats() {
    return { calls: counts.calls, byOperation: { ...counts.byOperation }, openTransactions: transactions.size };
  }

  async function callLocal(method: string, path: string, request: http.IncomingMessage): Promise<string> {
    if (path === '/_local/faults' && method === 'POST') {
      faults.inject(validateRule(await readJson(request)));
      return '{}';
    }
    if (path === '/_local/faults' && method === 'DELETE') {
      faults.clear();
      return '{}';
    }
    if (path === '/_local/stats' && method === 'GET') return JSON.stringify({ ...stats(), faultsInjected: faults.injected() });
    if (path === '/_local/latency' && method === 'POST') {
      const { ms } = ((await readJson(request)) ?? {}) as { ms?: unknown };
      if (typeof ms !== 'number' || !(ms >= 0)) throw badRequest('Body must be {"ms": <non-negative number>}');
      latencyMs = ms;
      return '{}';
    }
    throw notFound(`No local endpoint ${method} ${path}`);
  }

  const server = http.createServer((request, response) => {
    const requestId = randomUUID();
    const path = request.url ?? '/';
    const operation = request.method === 'POST' ? OPERATIONS[path] : undefined;
    const answer =
      operation !== undefined
        ? callOperation(operation, request)
        : path.startsWith('/_local/')
          ? callLocal(request.method ?? 'GET', path, request)
          : Promise.reject(new DataApiError('UnknownOperationException', 404, `Unknown operation ${request.method} ${path}`));
    answer.then(
      (body) => send(response, 200, body, requestId),
      (error: unknown) => {
        // Anything unexpected is a bug here, reported the way AWS reports its own: a bare 500.
        const failure = error instanceof DataApiError ? error : internalServerError();
        if (!(error instanceof DataApiError)) console.error('local-data-api: unexpected error', error);
        send(response, failure.status, failure.body(), requestId, failure.name);
      },
    );
  });
  // Longer than the SDK's idle sockets live, so a kept-alive socket is never closed under a request.
  server.keepAliveTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8087, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;

  return {
    url: `http://${host}:${port}`,
    port,
    faults,
    setLatency(ms: number) {
      latencyMs = ms;
    },
    stats,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await transactions.closeAll();
      await endPool(pool);
    },
  };
}

function send(response: http.ServerResponse, status: number, body: string, requestId: string, errorType?: string): void {
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-RequestId': requestId,
  };
  if (errorType !== undefined) headers['x-amzn-ErrorType'] = errorType;
  response.writeHead(status, headers).end(body);
}

/**
 * The body as JSON. Past 4 MiB the rest is read and dropped (so the socket stays usable) and the
 * call fails with BadRequestException (what AWS answers is not documented; possibly a 413).
 */
function readJson(request: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_REQUEST_BYTES) chunks.push(chunk);
    });
    request.on('error', reject);
    request.on('close', () => {
      if (!request.complete) reject(badRequest('The request was aborted'));
    });
    request.on('end', () => {
      if (size > MAX_REQUEST_BYTES) return reject(badRequest(`Request size ${size} exceeds the limit of ${MAX_REQUEST_BYTES} bytes`));
      if (size === 0) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks, size).toString('utf8')));
      } catch {
        reject(new DataApiError('SerializationException', 400, 'The request body is not valid JSON'));
      }
    });
  });
}

function endPool(pool: mysql.Pool): Promise<void> {
  return new Promise((resolve) => pool.end(() => resolve()));
}
