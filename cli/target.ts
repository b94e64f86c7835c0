/**
 * Which stack the CLI talks to, from the same variables the Lambdas read: DB_CLUSTER_ARN,
 * DB_SECRET_ARN, DB_NAME, and DATA_API_ENDPOINT for a local Data API server. With none of
 * DATA_API_ENDPOINT and DB_CLUSTER_ARN set, it is the local stack `npm start` runs.
 */
import { dbConfigFromEnv, type DbConfig } from '../lib/db/index.js';
import { CliError } from './errors.js';

export const LOCAL_DATA_API_ENDPOINT = 'http://127.0.0.1:8087';
export const LOCAL_LAMBDA_ENDPOINT = 'http://127.0.0.1:3002';

export interface Target {
  /** The environment with the local defaults filled in; what the App is built from. */
  env: NodeJS.ProcessEnv;
  db: DbConfig;
  /** A local Data API server rather than AWS. */
  local: boolean;
  /** For messages: "database aurora_queue via the local Data API at http://127.0.0.1:8087". */
  description: string;
}

export function resolveTarget(sourceEnv: NodeJS.ProcessEnv): Target {
  const env = { ...sourceEnv };
  if (!nonEmpty(env.DATA_API_ENDPOINT) && !nonEmpty(env.DB_CLUSTER_ARN)) env.DATA_API_ENDPOINT = LOCAL_DATA_API_ENDPOINT;
  let db: DbConfig;
  try {
    db = dbConfigFromEnv(env);
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
  const local = db.endpoint !== undefined;
  const description = local
    ? `database ${db.database} via the local Data API at ${db.endpoint}`
    : `database ${db.database} on ${db.resourceArn} via the RDS Data API`;
  return { env, db, local, description };
}

function nonEmpty(value: string | undefined): boolean {
  return value !== undefined && value.trim() !== '';
}
