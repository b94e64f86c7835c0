/**
 * Producing from a Node service with the typed client (lib/client), both transports. The message
 * types come from queue.config.ts, so `enqueue('order.confirm', …)` is checked at compile time.
 */
import { createQueueClient } from '../lib/index.js';
import config from '../queue.config.js';

/** A service that owns the cluster: straight to the Data API with its own credentials. */
export async function confirmOrderDirect(orderId: string, email: string, totalCents: number): Promise<string> {
  const queue = createQueueClient({
    transport: 'direct',
    config,
    database: { resourceArn: process.env.DB_CLUSTER_ARN!, secretArn: process.env.DB_SECRET_ARN!, database: 'aurora_queue' },
    // Concurrent single enqueues within 5 ms share one insert (0 sends each alone).
    lingerMs: 5,
  });
  try {
    const { id } = await queue.enqueue('order.confirm', { orderId, email, totalCents }, { queue: 'orders', dedupKey: `confirm:${orderId}` });
    return id;
  } finally {
    await queue.close(); // sends what auto-batching still holds
  }
}

/** Any other service: the deployed HTTP API, requests signed with SigV4 from the usual AWS credentials. */
export async function textCustomerHttp(baseUrl: string, to: string, body: string): Promise<string> {
  const queue = createQueueClient({ transport: 'http', config, baseUrl, region: process.env.AWS_REGION ?? 'us-east-1' });
  const { id } = await queue.enqueue('sms.send', { to, body }, { queue: 'sms' });
  return (await queue.get(id)).status;
}

/**
 * Waiting for the outcome: waitFor polls with backoff until the message is done, dead or cancelled
 * (a WaitTimeoutError after timeoutMs); `result` is typed by the job type's handler.
 */
export async function textCustomerAndWait(baseUrl: string, to: string, body: string): Promise<string> {
  const queue = createQueueClient({ transport: 'http', config, baseUrl, region: process.env.AWS_REGION ?? 'us-east-1' });
  const { id } = await queue.enqueue('sms.send', { to, body }, { queue: 'sms' });
  const message = await queue.waitFor<'sms.send'>(id, { timeoutMs: 30_000 });
  return message.status === 'done' ? 'sent' : `${message.status}: ${message.lastError ?? ''}`;
}
