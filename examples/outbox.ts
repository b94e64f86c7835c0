/**
 * Transactional outbox: a business write and the messages it causes commit together or not at
 * all. The caller owns a Data API transaction (its own BeginTransaction, with its own SDK client)
 * and passes the transaction id to `enqueueInTransaction`; the queue writes into that transaction
 * and never commits or rolls it back.
 *
 * Without this, "save the order, then enqueue the confirmation SMS" loses the SMS when the second
 * call fails, and "enqueue, then save" sends an SMS for an order that was never saved.
 *
 * Tables this example assumes, in the same database as the queue:
 *   CREATE TABLE orders (id VARCHAR(36) PRIMARY KEY, sku VARCHAR(32) NOT NULL, quantity INT NOT NULL, phone VARCHAR(16) NOT NULL)
 *   CREATE TABLE inventory (sku VARCHAR(32) PRIMARY KEY, stock INT NOT NULL)
 *
 * Two rules of the Data API matter here: calls on one transaction must not overlap (await each
 * before the next), and a transaction idle for 3 minutes is rolled back by the service.
 */
import {
  BeginTransactionCommand,
  CommitTransactionCommand,
  ExecuteStatementCommand,
  RollbackTransactionCommand,
  type RDSDataClient,
} from '@aws-sdk/client-rds-data';
import { enqueueInTransaction, wakeDrain, type App, type JobTypesOf } from '../lib/index.js';
import type config from '../queue.config.js';

/** The App of this deployment's queue.config.ts: enqueues are checked against its job types. */
type QueueApp = App<JobTypesOf<typeof config>>;

export interface Database {
  resourceArn: string;
  secretArn: string;
  database: string;
}

export interface Order {
  id: string;
  sku: string;
  quantity: number;
  /** E.164, e.g. +15550001111 */
  phone: string;
}

export class OutOfStockError extends Error {
  constructor(readonly sku: string) {
    super(`${sku} is out of stock`);
    this.name = 'OutOfStockError';
  }
}

/**
 * Saves the order, takes its stock and enqueues its confirmation SMS, in one transaction. When
 * the stock is short the whole transaction rolls back: no order, no stock taken, no SMS.
 */
export async function placeOrder(client: RDSDataClient, app: QueueApp, db: Database, order: Order): Promise<{ smsId: string }> {
  const { transactionId } = await client.send(new BeginTransactionCommand(db));
  if (transactionId === undefined) throw new Error('BeginTransaction returned no transaction id');
  const inTransaction = { resourceArn: db.resourceArn, secretArn: db.secretArn, database: db.database, transactionId };
  try {
    await client.send(
      new ExecuteStatementCommand({
        ...inTransaction,
        sql: 'INSERT INTO orders (id, sku, quantity, phone) VALUES (:id, :sku, :quantity, :phone)',
        parameters: [
          { name: 'id', value: { stringValue: order.id } },
          { name: 'sku', value: { stringValue: order.sku } },
          { name: 'quantity', value: { longValue: order.quantity } },
          { name: 'phone', value: { stringValue: order.phone } },
        ],
      }),
    );

    // The dedupKey makes a retried placeOrder (after a lost response) send one SMS, not two.
    const [sms] = await enqueueInTransaction(app, transactionId, 'orders', [
      { type: 'sms.send', payload: { to: order.phone, body: `Order ${order.id} confirmed.` }, dedupKey: `order-confirmed:${order.id}` },
    ]);

    const taken = await client.send(
      new ExecuteStatementCommand({
        ...inTransaction,
        sql: 'UPDATE inventory SET stock = stock - :quantity WHERE sku = :sku AND stock >= :quantity',
        parameters: [
          { name: 'sku', value: { stringValue: order.sku } },
          { name: 'quantity', value: { longValue: order.quantity } },
        ],
      }),
    );
    if (taken.numberOfRecordsUpdated !== 1) throw new OutOfStockError(order.sku);

    await client.send(new CommitTransactionCommand({ resourceArn: db.resourceArn, secretArn: db.secretArn, transactionId }));
    // Committed: now a drain can see the SMS, so start one (unless one is polling the queue).
    await wakeDrain(app, 'orders');
    return { smsId: sms!.id };
  } catch (error) {
    // Best effort: if the rollback call fails too, the service rolls back after 3 idle minutes.
    await client.send(new RollbackTransactionCommand({ resourceArn: db.resourceArn, secretArn: db.secretArn, transactionId })).catch(() => {});
    throw error;
  }
}
