/**
 * A local Data API server on a random port, the real SDK client pointed at it, and a fresh
 * database. Conformance tests speak to the server only through the client.
 */
import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RDSDataClient,
  RollbackTransactionCommand,
  type BatchExecuteStatementCommandOutput,
  type ExecuteStatementCommandInput,
  type ExecuteStatementCommandOutput,
  type Field,
  type SqlParameter,
} from '@aws-sdk/client-rds-data';
import { startLocalDataApi, type LocalDataApi, type LocalDataApiOptions } from '../../../dev/data-api/server.js';
import { createTestDatabase, dropTestDatabase } from '../../support/database.js';

export const RESOURCE_ARN = 'arn:aws:rds:us-east-1:123456789012:cluster:local';
export const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:local';

type Params = Record<string, Field> | SqlParameter[];
type ExecuteOptions = Omit<ExecuteStatementCommandInput, 'resourceArn' | 'secretArn' | 'sql' | 'parameters'>;

export interface Conformance {
  server: LocalDataApi;
  client: RDSDataClient;
  database: string;
  execute(sql: string, params?: Params, options?: ExecuteOptions): Promise<ExecuteStatementCommandOutput>;
  batch(sql: string, sets: Params[], transactionId?: string): Promise<BatchExecuteStatementCommandOutput>;
  begin(): Promise<string>;
  commit(transactionId: string): Promise<string | undefined>;
  rollback(transactionId: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export function toParameters(params: Params | undefined): SqlParameter[] | undefined {
  if (params === undefined || Array.isArray(params)) return params;
  return Object.entries(params).map(([name, value]) => ({ name, value }));
}

export async function startConformance(options: LocalDataApiOptions = {}): Promise<Conformance> {
  const database = await createTestDatabase('aq_lda');
  const server = await startLocalDataApi({ port: 0, ...options });
  const client = new RDSDataClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const target = { resourceArn: RESOURCE_ARN, secretArn: SECRET_ARN, database };
  return {
    server,
    client,
    database,
    execute: (sql, params, extra = {}) => client.send(new ExecuteStatementCommand({ ...target, sql, parameters: toParameters(params), ...extra })),
    batch: (sql, sets, transactionId) =>
      client.send(new BatchExecuteStatementCommand({ ...target, sql, parameterSets: sets.map((set) => toParameters(set)!), transactionId })),
    begin: async () => (await client.send(new BeginTransactionCommand(target))).transactionId!,
    commit: async (transactionId) => (await client.send(new CommitTransactionCommand({ ...target, transactionId }))).transactionStatus,
    rollback: async (transactionId) => (await client.send(new RollbackTransactionCommand({ ...target, transactionId }))).transactionStatus,
    async close() {
      client.destroy();
      await server.close();
      await dropTestDatabase(database);
    },
  };
}

/** The rejection of `promise`, for asserting on its class and fields. */
export async function failure(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected the call to fail');
}
