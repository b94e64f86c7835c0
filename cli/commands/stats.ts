import { getQueueStats, listQueueStats, type QueueStatsView } from '../../lib/operations.js';
import type { Command } from '../command.js';
import { formatCount, formatTable } from '../format.js';

export const statsCommand: Command = {
  name: 'stats',
  usage: '[queue]',
  summary: 'messages per status, delayed, oldest due age and paused, for one queue or all declared',
  options: [],
  arity: { min: 0, max: 1 },
  async run(context, [queue]) {
    const app = context.app();
    const stats = queue !== undefined ? [await getQueueStats(app, queue)] : await listQueueStats(app);
    if (context.json) return context.printJson(queue !== undefined ? stats[0] : stats);
    context.print(statsTable(stats));
  },
};

export function statsTable(stats: readonly QueueStatsView[]): string {
  const count = (n: number) => formatCount(n);
  return formatTable(
    [
      { header: 'queue' },
      { header: 'waiting', align: 'right' },
      { header: 'running', align: 'right' },
      { header: 'retrying', align: 'right' },
      { header: 'delayed', align: 'right' },
      { header: 'done', align: 'right' },
      { header: 'dead', align: 'right' },
      { header: 'cancelled', align: 'right' },
      { header: 'oldest due', align: 'right' },
      { header: 'paused' },
    ],
    stats.map((s) => [
      s.queue,
      count(s.counts.waiting),
      count(s.counts.running),
      count(s.counts.retrying),
      count(s.delayed),
      count(s.counts.done),
      count(s.counts.dead),
      count(s.counts.cancelled),
      `${Math.round(s.oldestDueAgeSeconds)} s`,
      s.paused ? 'yes' : 'no',
    ]),
  );
}
