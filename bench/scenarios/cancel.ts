/**
 * Cancelling running messages (issue 25): from the DELETE's answer (lib/messages.ts cancelMessage,
 * what DELETE /messages/{id} calls) to the handler's `context.signal` aborted, per message. One
 * drain run holds `tries` handlers that wait on their signal; they are cancelled one at a time at
 * random moments, so the cancels fall anywhere in the drain's 500 ms polling of cancel requests.
 */
import * as z from 'zod';
import { createApp } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import type { Db } from '../../lib/db/types.js';
import { drain } from '../../lib/drain/drain.js';
import { enqueue } from '../../lib/enqueue.js';
import { defineJobType } from '../../lib/jobs/types.js';
import { cancelMessage } from '../../lib/messages.js';
import { figure, percentile, type Figure } from '../lib/stats.js';

const QUEUE = 'bench-cancel';

export interface CancelResult {
  tries: number;
  /** DELETE answered → the handler's signal aborted, in ms. */
  latency: Figure;
  p99Ms: number;
  /** Messages the run settled `cancelled` (all of them, unless a handler ended first). */
  cancelled: number;
}

export async function cancelLatency(input: { newDb: () => Db; tries: number }): Promise<CancelResult> {
  const abortedAt = new Map<string, number>();
  const started = new Set<string>();
  const waits = defineJobType({
    type: 'bench.waits',
    payload: z.object({ n: z.number() }),
    timeoutMs: 120_000,
    handle: (_payload, context) =>
      new Promise<void>((resolve) => {
        started.add(context.id);
        context.signal.addEventListener(
          'abort',
          () => {
            abortedAt.set(context.id, performance.now());
            resolve();
          },
          { once: true },
        );
      }),
  });
  const app = createApp({ db: input.newDb(), env: {}, config: defineConfig({ queues: [{ name: QUEUE }], jobTypes: [waits] }), clock: systemClock });
  const answers = await enqueue(
    app,
    QUEUE,
    Array.from({ length: input.tries }, (_, n) => ({ type: 'bench.waits' as const, payload: { n } })),
  );
  const ids = answers.map((answer) => answer.id);
  const run = drain(app, { queue: QUEUE, remainingTimeMs: () => 600_000, tuning: { maxClaimsInFlight: 1 } });
  while (started.size < ids.length) await new Promise((resolve) => setTimeout(resolve, 20));

  const answeredAt = new Map<string, number>();
  for (const id of ids) {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 500));
    const view = await cancelMessage(app, id);
    answeredAt.set(id, performance.now());
    if (view.cancelRequested !== true) throw new Error(`message ${id} was not running: ${view.status}`);
  }
  const summary = await run;
  const latencies = ids.map((id) => abortedAt.get(id)! - answeredAt.get(id)!);
  return { tries: ids.length, latency: figure(latencies), p99Ms: percentile(latencies, 0.99), cancelled: summary.cancelled };
}
