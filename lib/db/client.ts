import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface DataApiClientOptions {
  /** A local Data API server, e.g. http://127.0.0.1:8087. */
  endpoint?: string;
  /** Default `AWS_REGION`, else us-east-1. */
  region?: string;
  /** Sockets kept open to the Data API; one per call in flight (default 64). */
  maxSockets?: number;
}

/**
 * The Data API's own limit is 45 s per call; AWS asks for client timeouts of at least 60 s so the
 * client never gives up on a statement that is still going to complete.
 */
const REQUEST_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * An RDSDataClient configured for this layer. Build one per process (module scope in a Lambda)
 * and pass it to every `createDb`, so all Dbs share its sockets.
 */
export function createDataApiClient(options: DataApiClientOptions = {}): RDSDataClient {
  const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
  const local = options.endpoint !== undefined;
  const client = new RDSDataClient({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(local ? { endpoint: options.endpoint } : {}),
    // A local server ignores signatures; without credentials in the env the default chain would
    // fail (or probe the instance metadata service), so sign with dummies.
    ...(local && !hasAwsCredentials(process.env) ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    // Retries live in lib/db/retry.ts, which knows which statements are safe to send twice.
    maxAttempts: 1,
    // Resolve each command's middleware once, not on every call: nothing here changes the stack
    // after the logger middleware is removed below.
    cacheMiddleware: true,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: CONNECT_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    }),
  });
  // The client's logger does nothing, yet this middleware builds a copy of every input and output,
  // sensitive fields masked, to hand it: a tenth of the drain's client CPU per message (bench/profile.ts d1).
  client.middlewareStack.remove('loggerMiddleware');
  return client;
}

function hasAwsCredentials(env: NodeJS.ProcessEnv): boolean {
  return Boolean(
    (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) ||
    env.AWS_PROFILE ||
    env.AWS_WEB_IDENTITY_TOKEN_FILE ||
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
    env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  );
}
