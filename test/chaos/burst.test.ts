/**
 * Enqueue bursts while four drains run: single messages 16 at once and batches through the
 * enqueue handler (some with repeated dedup keys, some delayed), and outbox enqueues in Data API
 * transactions of which half roll back. Every accepted message must be delivered once; duplicates
 * and rolled-back messages never.
 */
import { expect, it } from 'vitest';
import { createEnqueueHandler } from '../../handlers/enqueue.js';
import { enqueue, type EnqueuedMessage } from '../../lib/enqueue.js';
import { lambdaContext, httpEvent } from '../http/fixtures.js';
import { useStack } from '../support/stack.js';
import { CHAOS_QUEUE, chaosApp, chaosDb, checkInvariants, createDispatchLog, drainRounds, report, summaryTotals, type ChaosMessage } from './harness.js';
import { CHAOS_TYPE, scriptedJobType } from './scripts.js';

const stack = useStack();

class RolledBack extends Error {}

it('enqueue bursts concurrent with draining: every accepted message delivered once, duplicates and rollbacks never', async () => {
  const log = await createDispatchLog(stack.sql);
  const app = chaosApp(chaosDb(stack.endpoint, stack.database), scriptedJobType({ record: () => {}, runner: 'producer', timeoutMs: 1_000 }));
  const handler = createEnqueueHandler(() => app, { logger: { error: () => {}, warn: () => {} }, publishMetrics: () => {} });
  const message = (i: number) => ({
    type: CHAOS_TYPE,
    payload: { steps: ['ok'], n: i },
    ...(i % 10 === 0 ? { dedupKey: `key-${i % 70}` } : {}),
    ...(i % 25 === 0 ? { delaySeconds: 1 } : {}),
  });
  const post = async (body: unknown): Promise<EnqueuedMessage[]> => {
    const response = await handler(
      httpEvent({ method: 'POST', path: `/queues/${CHAOS_QUEUE}/messages`, pathParameters: { queue: CHAOS_QUEUE }, body }),
      lambdaContext,
    );
    if (response.statusCode !== 202) throw new Error(`enqueue answered ${response.statusCode}: ${response.body}`);
    const answer = JSON.parse(response.body as string) as EnqueuedMessage | { messages: EnqueuedMessage[] };
    return 'messages' in answer ? answer.messages : [answer];
  };

  const answers: EnqueuedMessage[] = [];
  const rolledBack: string[] = [];
  let next = 0;
  const singles = async () => {
    while (next < 1_500) answers.push(...(await post(message(next++))));
  };
  const batches = async (offset: number) => {
    for (let b = 0; b < 10; b++) {
      const first = 10_000 + offset + b * 100;
      answers.push(...(await post({ messages: Array.from({ length: 100 }, (_, i) => message(first + i)) })));
    }
  };
  const outbox = async () => {
    for (let t = 0; t < 40; t++) {
      const messages = Array.from({ length: 10 }, (_, i) => ({ type: CHAOS_TYPE, payload: { steps: ['ok'], n: 50_000 + t * 10 + i } }));
      const rollback = t % 2 === 1;
      try {
        await app.db.transaction(async (tx) => {
          const stored = await enqueue(app, CHAOS_QUEUE, messages, { db: tx });
          if (rollback) {
            rolledBack.push(...stored.map((s) => s.id));
            throw new RolledBack();
          }
          answers.push(...stored);
        });
      } catch (error) {
        if (!(error instanceof RolledBack)) throw error;
      }
    }
  };

  let producing = true;
  const producers = Promise.all([...Array.from({ length: 16 }, singles), batches(0), batches(1_000), outbox()]).finally(() => (producing = false));
  const rounds = await drainRounds({ stack, log, runs: 4, deadline: Date.now() + 120_000, busy: () => producing });
  await producers;

  const accepted = new Map<string, ChaosMessage>();
  let duplicates = 0;
  for (const answer of answers) {
    if (answer.duplicate) duplicates++;
    else accepted.set(answer.id, { id: answer.id, script: { steps: ['ok'] }, maxAttempts: 5 });
  }
  // A duplicate answers the id of the message it repeats, which must itself have been accepted.
  for (const answer of answers.filter((a) => a.duplicate)) expect(accepted.has(answer.id)).toBe(true);

  const { counts, violations } = await checkInvariants(stack, [...accepted.values()], log);
  const [[ghosts]] = (await stack.sql.query('SELECT COUNT(*) AS n FROM queue_messages WHERE id IN (?)', [rolledBack])) as unknown as [[{ n: number }]];
  const dispatchedGhosts = (await log.all()).filter((d) => rolledBack.includes(d.messageId)).length;
  report('enqueue bursts while draining', counts, {
    answers: answers.length,
    duplicates,
    rolledBack: rolledBack.length,
    rounds: rounds.rounds,
    ...summaryTotals(rounds.summaries),
  });
  expect(violations).toEqual([]);
  expect(duplicates).toBeGreaterThan(0);
  expect(Number(ghosts.n)).toBe(0);
  expect(dispatchedGhosts).toBe(0);
  expect(counts.done).toBe(accepted.size);
});
