import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
  type BatchExecuteStatementCommandOutput,
  type BeginTransactionCommandOutput,
  type ExecuteStatementCommandOutput,
  type RDSDataClient,
} from '@aws-sdk/client-rds-data';
import { activeTracer, inSpan, SpanKind } from '../tracing.js';
import { DeadlockError, TransactionNotFoundError } from './errors.js';
import { decodeRows, insertIdOf, parseFormattedRecords, toSqlParameters } from './fields.js';
import { deadlockBackoffMs, withRetry, type CallKind, type RetryPolicy } from './retry.js';
import type { BatchResult, CallStats, Db, ExecuteResult, Row, SqlParams, StatementOptions } from './types.js';

/** What every Db derived from one `createDb` shares. */
export interface DbCore {
  client: RDSDataClient;
  resourceArn: string;
  secretArn: string;
  /** Undefined: statements run without a default database (e.g. CREATE DATABASE). */
  database: string | undefined;
  policy: RetryPolicy;
  stats: CallStats;
}

type Operation = 'Execute' | 'BatchExecute' | 'BeginTransaction' | 'CommitTransaction' | 'RollbackTransaction';

/** Runs functions one after another: the Data API refuses a call on a transaction that is still busy. */
class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(ignore, ignore);
    return result;
  }
}

const ignore = () => {};

interface BoundTransaction {
  id: string;
  queue: SerialQueue;
  /** Set once this layer committed or rolled back; later calls fail fast instead of reaching the server. */
  ended: boolean;
}

export class DataApiDb implements Db {
  readonly #core: DbCore;
  readonly #tx: BoundTransaction | undefined;

  constructor(core: DbCore, tx?: BoundTransaction) {
    this.#core = core;
    this.#tx = tx;
  }

  get transactionId(): string | undefined {
    return this.#tx?.id;
  }

  get stats(): CallStats {
    return this.#core.stats;
  }

  async query<T extends Row = Row>(sql: string, params?: SqlParams, options?: StatementOptions): Promise<T[]> {
    if (options?.jsonRecords === true) {
      const output = await this.#executeStatement(sql, params, options, false, 'JSON');
      return parseFormattedRecords(output.formattedRecords) as T[];
    }
    const output = await this.#executeStatement(sql, params, options, true);
    return decodeRows(output.records, output.columnMetadata) as T[];
  }

  async execute(sql: string, params?: SqlParams, options?: StatementOptions): Promise<ExecuteResult> {
    const output = await this.#executeStatement(sql, params, options, false);
    const numberOfRecordsUpdated = output.numberOfRecordsUpdated ?? 0;
    const insertId = insertIdOf(output.generatedFields);
    return insertId === undefined ? { numberOfRecordsUpdated } : { numberOfRecordsUpdated, insertId };
  }

  /** Column metadata only when rows are decoded: it costs bytes on every response. */
  #executeStatement(
    sql: string,
    params: SqlParams | undefined,
    options: StatementOptions | undefined,
    includeResultMetadata: boolean,
    formatRecordsAs?: 'JSON',
  ) {
    const core = this.#core;
    const command = new ExecuteStatementCommand({
      resourceArn: core.resourceArn,
      secretArn: core.secretArn,
      database: core.database,
      sql,
      parameters: toSqlParameters(params),
      transactionId: this.#tx?.id,
      includeResultMetadata: includeResultMetadata || undefined,
      continueAfterTimeout: options?.continueAfterTimeout,
      formatRecordsAs,
    });
    return this.#call<ExecuteStatementCommandOutput>('Execute', command, options?.idempotent === true);
  }

  async batch(sql: string, parameterSets: readonly SqlParams[], options?: StatementOptions): Promise<BatchResult> {
    // The API would run the statement once with no parameters; "no rows" must mean no call.
    if (parameterSets.length === 0) return { updateResults: [] };
    const core = this.#core;
    const command = new BatchExecuteStatementCommand({
      resourceArn: core.resourceArn,
      secretArn: core.secretArn,
      database: core.database,
      sql,
      parameterSets: parameterSets.map((params) => toSqlParameters(params) ?? []),
      transactionId: this.#tx?.id,
    });
    const output = await this.#call<BatchExecuteStatementCommandOutput>('BatchExecute', command, options?.idempotent === true);
    const results = output.updateResults ?? [];
    return {
      updateResults: results.map((result) => {
        const insertId = insertIdOf(result.generatedFields);
        return insertId === undefined ? {} : { insertId };
      }),
    };
  }

  async transaction<T>(work: (tx: Db) => Promise<T>): Promise<T> {
    // No nesting: the Data API has no savepoints, so an inner transaction is the outer one.
    if (this.#tx !== undefined) return work(this);

    const { policy } = this.#core;
    for (let attempt = 0; ; attempt++) {
      const tx = new DataApiDb(this.#core, { id: await this.#begin(), queue: new SerialQueue(), ended: false });
      try {
        const result = await work(tx);
        await tx.#end('CommitTransaction');
        return result;
      } catch (error) {
        await tx.#rollbackQuietly();
        if (attempt < policy.deadlockRetries && isDeadlock(error)) {
          await policy.sleep(deadlockBackoffMs(attempt + 1, policy.random));
          continue;
        }
        throw error;
      }
    }
  }

  withTransactionId(transactionId: string): Db {
    // Sharing the queue with a Db already bound to this id keeps their calls from overlapping.
    const queue = this.#tx?.id === transactionId ? this.#tx.queue : new SerialQueue();
    // `ended: false` forever: the owner commits or rolls back, and its outcome is not ours to track.
    return new DataApiDb(this.#core, { id: transactionId, queue, ended: false });
  }

  async #begin(): Promise<string> {
    const core = this.#core;
    const command = new BeginTransactionCommand({ resourceArn: core.resourceArn, secretArn: core.secretArn, database: core.database });
    // Replaying a Begin at worst leaves an empty transaction that expires after 3 minutes.
    const output = await withRetry(() => this.#send<BeginTransactionCommandOutput>('BeginTransaction', command), REPLAYABLE, core.policy);
    if (output.transactionId === undefined) throw new TransactionNotFoundError('BeginTransaction returned no transactionId');
    return output.transactionId;
  }

  /** Commit is never re-sent: a lost reply leaves its outcome unknown, and the caller must learn that. */
  async #end(operation: 'CommitTransaction' | 'RollbackTransaction'): Promise<void> {
    const tx = this.#tx!;
    const core = this.#core;
    const input = { resourceArn: core.resourceArn, secretArn: core.secretArn, transactionId: tx.id };
    const command = operation === 'CommitTransaction' ? new CommitTransactionCommand(input) : new RollbackTransactionCommand(input);
    const kind = operation === 'CommitTransaction' ? TRANSACTION_ONCE : TRANSACTION_REPLAYABLE;
    await tx.queue.run(async () => {
      if (tx.ended) return;
      await withRetry(() => this.#send(operation, command), kind, core.policy);
      tx.ended = true;
    });
  }

  /**
   * Called after `work` or Commit failed. Its own failure is dropped: the original error is the
   * one the caller needs, and a transaction nobody ends is rolled back by the Data API anyway
   * (3 min idle). TransactionNotFound is expected after a deadlock or an aborting error.
   */
  async #rollbackQuietly(): Promise<void> {
    try {
      await this.#end('RollbackTransaction');
    } catch {
      this.#tx!.ended = true;
    }
  }

  #call<O>(operation: Operation, command: object, replayable: boolean): Promise<O> {
    const policy = this.#core.policy;
    const tx = this.#tx;
    if (tx === undefined) return withRetry(() => this.#send<O>(operation, command), replayable ? REPLAYABLE : ONCE, policy);
    return tx.queue.run(() => {
      if (tx.ended) return Promise.reject(new TransactionNotFoundError(`Transaction ${tx.id.slice(0, 12)}… has already ended`));
      return withRetry(() => this.#send<O>(operation, command), replayable ? TRANSACTION_REPLAYABLE : TRANSACTION_ONCE, policy);
    });
  }

  /**
   * The one place that talks HTTP: every call, retries included, is counted here, and is a client
   * span of its own when an OpenTelemetry SDK is registered (lib/tracing.ts).
   */
  #send<O>(operation: Operation, command: object): Promise<O> {
    const stats = this.#core.stats;
    stats.calls++;
    stats.byOperation[operation] = (stats.byOperation[operation] ?? 0) + 1;
    const send = () => this.#core.client.send(command as ExecuteStatementCommand) as Promise<O>;
    if (activeTracer() === undefined) return send();
    return inSpan(`RDSData.${API_OPERATIONS[operation]}`, callAttributes(operation, command), send, SpanKind.CLIENT);
  }
}

const API_OPERATIONS: Record<Operation, string> = {
  Execute: 'ExecuteStatement',
  BatchExecute: 'BatchExecuteStatement',
  BeginTransaction: 'BeginTransaction',
  CommitTransaction: 'CommitTransaction',
  RollbackTransaction: 'RollbackTransaction',
};

/**
 * A Data API call's span attributes (the AWS SDK and database conventions). The statement's text is
 * recorded as it is: every value travels as a named parameter, never in the text (lib/sql).
 */
function callAttributes(operation: Operation, command: object): Record<string, string> {
  const sql = (command as { input?: { sql?: string } }).input?.sql;
  return {
    'rpc.system': 'aws-api',
    'rpc.service': 'RDSData',
    'rpc.method': API_OPERATIONS[operation],
    'db.system.name': 'mysql',
    ...(sql === undefined ? {} : { 'db.query.text': sql.trim(), 'db.operation.name': /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '' }),
  };
}

const REPLAYABLE: CallKind = { replayable: true, inTransaction: false };
const ONCE: CallKind = { replayable: false, inTransaction: false };
const TRANSACTION_REPLAYABLE: CallKind = { replayable: true, inTransaction: true };
const TRANSACTION_ONCE: CallKind = { replayable: false, inTransaction: true };

/** A deadlock anywhere in the cause chain: `work` may have wrapped it in its own error. */
function isDeadlock(error: unknown): boolean {
  for (let e = error, depth = 0; e !== undefined && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof DeadlockError) return true;
  }
  return false;
}
