import { beforeEach, expect, it } from 'vitest';
import { ThroughputHistory } from '../../../cli/dashboard/throughput.js';
import { enqueue } from '../../../lib/enqueue.js';
import { testApp } from '../../http/fixtures.js';
import { useStack } from '../../support/stack.js';

const stack = useStack();

beforeEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
});

/** A done message of `default` finished at `at`. */
async function doneAt(at: string): Promise<string> {
  const [answer] = await enqueue(testApp(stack.db), 'default', [{ type: 'any', payload: 1 }]);
  await stack.sql.query("UPDATE queue_messages SET status = 'done', finished_at = ?, updated_at = ? WHERE id = ?", [new Date(at), new Date(at), answer!.id]);
  return answer!.id;
}

it('keeps the minutes that are over and reads only the last two again', async () => {
  const app = testApp(stack.db); // 2026-03-01T12:00:00Z
  app.clock.set('2026-03-01T12:00:30Z');
  const old = await doneAt('2026-03-01T11:50:10Z');
  const recent = await doneAt('2026-03-01T11:59:10Z');
  const history = new ThroughputHistory(app);

  const first = await history.read();
  expect(first.since.toISOString()).toBe('2026-03-01T11:01:00.000Z');
  const [defaults] = first.queues;
  expect(defaults!.done).toHaveLength(60);
  expect(defaults!.done[49]).toBe(1);
  expect(defaults!.done[58]).toBe(1);

  // The table forgets both (retention, say): the minute that is over keeps its count, the recent one is read again.
  await stack.sql.query('DELETE FROM queue_messages WHERE id IN (?)', [[old, recent]]);
  await doneAt('2026-03-01T12:00:20Z');
  const second = (await history.read()).queues[0]!;
  expect(second.done[49]).toBe(1);
  expect(second.done[58]).toBe(0);
  expect(second.done[59]).toBe(1);

  // A minute later the window moves on by one.
  app.clock.advance(60_000);
  const third = await history.read();
  expect(third.since.toISOString()).toBe('2026-03-01T11:02:00.000Z');
  expect(third.queues[0]!.done[48]).toBe(1);
  expect(third.queues[0]!.done[58]).toBe(1);
  expect(third.queues[0]!.done.reduce((a, b) => a + b)).toBe(2);
});
