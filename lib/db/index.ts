/** The database access layer: everything above lib/db reaches Aurora MySQL through `createDb`. */
import type { RDSDataClient } from '@aws-sdk/client-rds-data';
import { createDataApiClient } from './client.js';
import { DataApiDb } from './dataApiDb.js';
import { defaultRetryPolicy, DEFAULT_RESUME_DELAYS_MS, DEFAULT_RESUME_MAX_WAIT_MS, DEFAULT_DEADLOCK_RETRIES, type RetryPolicy } from './retry.js';
import type { Db } from './types.js';

export interface CreateDbOptions {
  resourceArn: string;
  secretArn: string;
  /** The default database of every statement; omit only for statements that name theirs (CREATE DATABASE). */
  database: string | undefined;
  /** A local Data API server; without AWS credentials in the env, requests are signed with dummies. */
  endpoint?: string;
  /** Default `AWS_REGION`, else us-east-1. */
  region?: string;
  /** Share one client across Dbs (a Lambda keeps it at module scope); see `createDataApiClient`. */
  client?: RDSDataClient;
  /** Waiting for a cluster resuming from auto-pause: delays between attempts (the last repeats) and the total. */
  resumeRetry?: { maxWaitMs?: number; delaysMs?: number[] };
  /** Re-sends of a replayable call after a 5xx or network failure, and the waits before them. */
  unavailableRetry?: { delaysMs?: number[] };
  /** Re-runs of a whole transaction after a deadlock or lock wait timeout (default 3). */
  transactionRetries?: number;
  /** Injectable so tests do not wait real seconds. */
  sleep?: (ms: number) => Promise<void>;
}

export function createDb(options: CreateDbOptions): Db {
  const overrides: Partial<RetryPolicy> = {
    resumeDelaysMs: options.resumeRetry?.delaysMs ?? DEFAULT_RESUME_DELAYS_MS,
    resumeMaxWaitMs: options.resumeRetry?.maxWaitMs ?? DEFAULT_RESUME_MAX_WAIT_MS,
    deadlockRetries: options.transactionRetries ?? DEFAULT_DEADLOCK_RETRIES,
  };
  if (options.unavailableRetry?.delaysMs !== undefined) overrides.unavailableDelaysMs = options.unavailableRetry.delaysMs;
  if (options.sleep !== undefined) overrides.sleep = options.sleep;
  return new DataApiDb({
    client: options.client ?? createDataApiClient({ endpoint: options.endpoint, region: options.region }),
    resourceArn: options.resourceArn,
    secretArn: options.secretArn,
    database: options.database === '' ? undefined : options.database,
    policy: defaultRetryPolicy(overrides),
    stats: { calls: 0, byOperation: {} },
  });
}

export { createDataApiClient, type DataApiClientOptions } from './client.js';
export { dbConfigFromEnv, LOCAL_DATABASE, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN, type DbConfig } from './config.js';
export {
  DatabaseError,
  DatabaseResumingError,
  DataApiRequestError,
  DataApiUnavailableError,
  DeadlockError,
  describeDatabaseError,
  DuplicateKeyError,
  StatementTimeoutError,
  TransactionBusyError,
  TransactionNotFoundError,
  parseMysqlError,
  toDatabaseError,
} from './errors.js';
export { formatTimestamp } from './fields.js';
export type * from './types.js';
