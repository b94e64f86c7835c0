export interface DbConfig {
  resourceArn: string;
  secretArn: string;
  database: string;
  /** Set for a local Data API server; absent means AWS. */
  endpoint?: string;
}

export const LOCAL_RESOURCE_ARN = 'arn:aws:rds:us-east-1:123456789012:cluster:local';
export const LOCAL_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:local';
export const LOCAL_DATABASE = 'aurora_queue';

/**
 * Reads `DB_CLUSTER_ARN`, `DB_SECRET_ARN`, `DB_NAME` and `DATA_API_ENDPOINT`. Only a local
 * endpoint gets defaults: against AWS a missing value is a deployment mistake, not something
 * to paper over.
 */
export function dbConfigFromEnv(env: Record<string, string | undefined> = process.env): DbConfig {
  const endpoint = nonEmpty(env.DATA_API_ENDPOINT);
  if (endpoint !== undefined) {
    return {
      endpoint,
      resourceArn: nonEmpty(env.DB_CLUSTER_ARN) ?? LOCAL_RESOURCE_ARN,
      secretArn: nonEmpty(env.DB_SECRET_ARN) ?? LOCAL_SECRET_ARN,
      database: nonEmpty(env.DB_NAME) ?? LOCAL_DATABASE,
    };
  }
  const missing = ['DB_CLUSTER_ARN', 'DB_SECRET_ARN', 'DB_NAME'].filter((name) => nonEmpty(env[name]) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `Missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (set DATA_API_ENDPOINT to use a local Data API server instead)`,
    );
  }
  return { resourceArn: env.DB_CLUSTER_ARN!, secretArn: env.DB_SECRET_ARN!, database: env.DB_NAME! };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
