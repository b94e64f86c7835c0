import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSecret, secret } from '../lib/secrets.js';

// SSM itself cannot run here: a stand-in for its GetParameter action (JSON 1.1 protocol) lets the
// real SDK client and Powertools' cache do their work.
let server: Server;
let endpoint: string;
const requests: Array<{ target: string; body: { Name: string; WithDecryption?: boolean } }> = [];
const stored = new Map([['/aurora-queue/test/webhook-signing-secret', 'from-ssm']]);

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk) => (text += chunk));
    req.on('end', () => {
      const body = JSON.parse(text);
      requests.push({ target: String(req.headers['x-amz-target']), body });
      const value = stored.get(body.Name);
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (value === undefined) {
        res.statusCode = 400;
        res.end(JSON.stringify({ __type: 'ParameterNotFound', message: 'not found' }));
        return;
      }
      res.end(JSON.stringify({ Parameter: { Name: body.Name, Type: 'SecureString', Value: value, Version: 1 } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

function provider(): SSMProvider {
  return new SSMProvider({ clientConfig: { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } });
}

describe('secret', () => {
  it('reads the SSM parameter named by <NAME>_PARAMETER, decrypted, and caches it', async () => {
    requests.length = 0;
    const env = { WEBHOOK_SIGNING_SECRET_PARAMETER: '/aurora-queue/test/webhook-signing-secret', WEBHOOK_SIGNING_SECRET: 'ignored' };
    const signing = secret('WEBHOOK_SIGNING_SECRET', { env, provider: provider() });
    expect(await signing.value()).toBe('from-ssm');
    expect(await signing.value()).toBe('from-ssm');
    expect(requests).toEqual([{ target: 'AmazonSSM.GetParameter', body: { Name: '/aurora-queue/test/webhook-signing-secret', WithDecryption: true } }]);
  });

  it('reads again once the cache has expired', async () => {
    requests.length = 0;
    const env = { WEBHOOK_SIGNING_SECRET_PARAMETER: '/aurora-queue/test/webhook-signing-secret' };
    const signing = secret('WEBHOOK_SIGNING_SECRET', { env, provider: provider(), maxAgeSeconds: 0 });
    await signing.value();
    await signing.value();
    expect(requests).toHaveLength(2);
  });

  it('fails (so the job retries) when the parameter is missing', async () => {
    const signing = secret('X', { env: { X_PARAMETER: '/missing' }, provider: provider() });
    await expect(signing.value()).rejects.toThrow();
  });

  it('falls back to the plain variable locally, and to undefined', async () => {
    expect(await secret('TOKEN', { env: { TOKEN: 'plain' } }).value()).toBe('plain');
    expect(await secret('TOKEN', { env: {} }).value()).toBeUndefined();
    expect(await secret('TOKEN', { env: { TOKEN: '' } }).value()).toBeUndefined();
  });
});

describe('resolveSecret', () => {
  it('takes a plain value, a Secret or nothing', async () => {
    expect(await resolveSecret('s')).toBe('s');
    expect(await resolveSecret(undefined)).toBeUndefined();
    expect(await resolveSecret(secret('T', { env: { T: 'v' } }))).toBe('v');
  });
});
