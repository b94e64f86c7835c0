/**
 * A batch type (README: Batch handlers): push notifications go to a service that takes many in
 * one call and answers a result for each, in order.
 */
import * as z from 'zod';
import { defineJobType, type BatchItemFailure } from '../lib/index.js';

/** What a push service's SDK offers, for this example. */
export interface PushService {
  sendMany(notifications: { token: string; title: string }[], options: { signal: AbortSignal }): Promise<{ ok: boolean; permanent: boolean; reason: string }[]>;
}

export function pushNotify(push: PushService) {
  return defineJobType({
    type: 'push.notify',
    payload: z.strictObject({ token: z.string().min(1), title: z.string().min(1).max(200) }),
    batch: { maxSize: 500, maxWaitMs: 250 },
    timeoutMs: 15_000,
    async handleBatch(messages, context) {
      const results = await push.sendMany(
        messages.map((m) => m.payload),
        { signal: context.signal },
      );
      // Every message left out is done; a throw (the call failed as a whole) retries them all.
      return messages.flatMap((m, i): BatchItemFailure[] => {
        const result = results[i];
        if (result === undefined) return [{ id: m.id, outcome: 'retry', error: 'no result' }];
        if (result.ok) return [];
        return result.permanent
          ? [{ id: m.id, outcome: 'dead', error: result.reason }]
          : [{ id: m.id, outcome: 'retry', error: result.reason, retryAfterMs: 5_000 }];
      });
    },
  });
}
