import { describe, expect, it } from 'vitest';
import { dbConfigFromEnv, LOCAL_DATABASE, LOCAL_RESOURCE_ARN, LOCAL_SECRET_ARN } from '../../lib/db/config.js';

describe('dbConfigFromEnv', () => {
  it('fills local defaults only when DATA_API_ENDPOINT is set', () => {
    expect(dbConfigFromEnv({ DATA_API_ENDPOINT: 'http://127.0.0.1:8087' })).toEqual({
      endpoint: 'http://127.0.0.1:8087',
      resourceArn: LOCAL_RESOURCE_ARN,
      secretArn: LOCAL_SECRET_ARN,
      database: LOCAL_DATABASE,
    });
    expect(dbConfigFromEnv({ DATA_API_ENDPOINT: 'http://x', DB_NAME: 'other' }).database).toBe('other');
  });

  it('reads the AWS configuration', () => {
    const env = { DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:1:cluster:q', DB_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:q', DB_NAME: 'queue' };
    expect(dbConfigFromEnv(env)).toEqual({ resourceArn: env.DB_CLUSTER_ARN, secretArn: env.DB_SECRET_ARN, database: 'queue' });
  });

  it('names every missing variable in AWS mode', () => {
    expect(() => dbConfigFromEnv({ DB_CLUSTER_ARN: 'arn:aws:rds:eu-west-1:1:cluster:q', DB_NAME: '' })).toThrow(/DB_SECRET_ARN, DB_NAME/);
    expect(() => dbConfigFromEnv({})).toThrow(/DB_CLUSTER_ARN/);
  });
});
