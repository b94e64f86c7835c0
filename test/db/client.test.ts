import { ExecuteStatementCommand } from '@aws-sdk/client-rds-data';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { describe, expect, it } from 'vitest';
import { createDataApiClient } from '../../lib/db/client.js';

describe('createDataApiClient', () => {
  it('never lets the SDK retry, and waits longer than the Data API’s 45 s limit', async () => {
    const client = createDataApiClient({ endpoint: 'http://127.0.0.1:1' });
    try {
      expect(await client.config.maxAttempts()).toBe(1);
      // The handler resolves its configuration on its first request.
      const refused = (await client
        .send(
          new ExecuteStatementCommand({
            resourceArn: 'arn:aws:rds:us-east-1:1:cluster:x',
            secretArn: 'arn:aws:secretsmanager:us-east-1:1:secret:x',
            sql: 'SELECT 1',
          }),
        )
        .catch((e: unknown) => e)) as { code?: string; $metadata?: { attempts?: number } };
      expect(refused.code).toBe('ECONNREFUSED');
      expect(refused.$metadata?.attempts ?? 1).toBe(1);
      const handler = client.config.requestHandler as NodeHttpHandler;
      expect(handler).toBeInstanceOf(NodeHttpHandler);
      const config = handler.httpHandlerConfigs();
      expect(config.requestTimeout).toBeGreaterThanOrEqual(60_000);
      expect(config.throwOnRequestTimeout).toBe(true);
    } finally {
      client.destroy();
    }
  });

  it('resolves each command’s middleware once and builds no log copies of inputs and outputs for a logger that does nothing', () => {
    const client = createDataApiClient({ endpoint: 'http://127.0.0.1:1' });
    try {
      expect(client.config.cacheMiddleware).toBe(true);
      expect(client.middlewareStack.identify().some((entry) => entry.startsWith('loggerMiddleware'))).toBe(false);
    } finally {
      client.destroy();
    }
  });

  it('signs requests to a local endpoint with dummy credentials when the env has none', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY, profile: process.env.AWS_PROFILE };
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    delete process.env.AWS_PROFILE;
    const client = createDataApiClient({ endpoint: 'http://127.0.0.1:1' });
    try {
      const credentials = await client.config.credentials();
      expect(credentials.accessKeyId).toBe('local');
    } finally {
      client.destroy();
      if (saved.id !== undefined) process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret !== undefined) process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.profile !== undefined) process.env.AWS_PROFILE = saved.profile;
    }
  });
});
