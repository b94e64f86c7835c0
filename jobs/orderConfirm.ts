/**
 * An example of a team's own job type: one file in jobs/, one line in queue.config.ts. It only
 * logs; a real one would call the mail or SMS service that confirms the order (see lib/jobs/sms.ts
 * for a type that reads a setting and a secret).
 */
import * as z from 'zod';
import { createLogger, defineJobType, PermanentError } from '../lib/index.js';

const logger = createLogger();

export const orderConfirm = defineJobType({
  type: 'order.confirm',
  payload: z.strictObject({
    orderId: z.string().min(1).max(64),
    email: z.email('must be an e-mail address'),
    totalCents: z.number().int('must be a whole number of cents').min(0, 'must not be negative'),
  }),
  timeoutMs: 5_000,
  async handle(order, context) {
    // A permanent error dead-letters at once: retrying would not make this order confirmable.
    if (order.orderId.startsWith('test-cancelled-')) throw new PermanentError(`order ${order.orderId} was cancelled`);
    logger.info('order confirmed', { orderId: order.orderId, messageId: context.id, attempt: context.attempt });
  },
});
