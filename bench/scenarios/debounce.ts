/**
 * Debounce (issue 25): 100 enqueues of one dedup key through the enqueue handler, 20 ms apart,
 * each `dedup: { mode: 'debounce', seconds: 1 }`, then a woken, lingering drain. Reports how many
 * times the handler ran (the target: once, with the last payload) and how long after the last
 * enqueue's answer it started (the target: about the debounce's 1 s).
 */
import type mysql from 'mysql2/promise';
import { createEnqueueHandler } from '../../handlers/enqueue.js';
import type { Db } from '../../lib/db/types.js';
import { drain } from '../../lib/drain/drain.js';
import { sleep } from '../../lib/sleep.js';
import { BENCH_QUEUE, benchApp, enqueueEvent, lambdaContext } from '../lib/benchApp.js';
import { BENCH_TYPE, benchPayload } from '../lib/seed.js';

export interface DebounceResult {
  enqueues: number;
  /** Handler runs of the key's messages: 1 when debounce works. */
  runs: number;
  /** Whether the one run had the last enqueue's payload. */
  lastPayloadRan: boolean;
  /** Last enqueue answered → handler started, in ms. */
  delayMs: number;
  /** Data API calls per enqueue (a hit: insert, read, update). */
  enqueueCallsPerMessage: number;
}

const quietLogger = { error: () => {}, warn: () => {} };

export async function debounceThroughHandler(input: { newDb: () => Db; pool: mysql.Pool; enqueues?: number; stepMs?: number }): Promise<DebounceResult> {
  const enqueues = input.enqueues ?? 100;
  const started: { id: string; at: number }[] = [];
  const app = benchApp(input.newDb(), { onDispatch: (id) => started.push({ id, at: performance.now() }) });
  const handler = createEnqueueHandler(() => app, { logger: quietLogger, publishMetrics: () => {} });
  let lastAnsweredAt = 0;
  for (let n = 0; n < enqueues; n++) {
    const body = { type: BENCH_TYPE, payload: benchPayload(n), dedupKey: 'bench-debounce', dedup: { mode: 'debounce', seconds: 1 } };
    const response = await handler(enqueueEvent(BENCH_QUEUE, body), lambdaContext());
    if (response.statusCode !== 202) throw new Error(`enqueue answered ${response.statusCode}: ${response.body}`);
    lastAnsweredAt = performance.now();
    if (n < enqueues - 1) await sleep(input.stepMs ?? 20);
  }
  const enqueueCalls = app.db.stats.calls;
  // As the last enqueue's wake would start it: a woken run lingers and looks ahead for the due message.
  await drain(app, {
    queue: BENCH_QUEUE,
    remainingTimeMs: () => 60_000,
    linger: { idleMs: 2_000, woken: true },
  });
  const [rows] = await input.pool.query('SELECT id, CAST(payload AS CHAR) AS payload FROM queue_messages WHERE id IN (?)', [
    started.length === 0 ? [''] : started.map((s) => s.id),
  ]);
  const ran = (rows as { payload: string }[]).map((row) => (JSON.parse(row.payload) as { n: number }).n);
  return {
    enqueues,
    runs: started.length,
    lastPayloadRan: started.length === 1 && ran[0] === enqueues - 1,
    delayMs: started.length === 0 ? Number.NaN : started[0]!.at - lastAnsweredAt,
    enqueueCallsPerMessage: enqueueCalls / enqueues,
  };
}
