import { getQueueStats, listQueueStats, type QueueStatsView } from '../../lib/operations.js';
import type { QueueConfig } from '../../lib/queues.js';
import type { Command } from '../command.js';
import { formatCount, formatTable } from '../format.js';

export const statsCommand: Command = {
  name: 'stats',
  usage: '[queue]',
  summary: 'messages per status, delayed, oldest due age, FIFO groups, queue-wide permits in use and paused, for one queue or all declared',
  options: [],
  arity: { min: 0, max: 1 },
  async run(context, [queue]) {
    const app = context.app();
    const stats = queue !== undefined ? [await getQueueStats(app, queue)] : await listQueueStats(app);
    if (context.json) return context.printJson(queue !== undefined ? stats[0] : stats);
    context.print(statsTable(stats, app.queues));
    for (const line of topGroupsLines(stats)) context.print(line);
  },
};

/**
 * One row per queue. `groups` and `blocked` (groups held by a retrying head) are a FIFO queue's;
 * `permits in use` are the queue-wide limits' (run: handlers running across every drain run, of
 * `concurrency`; rate: messages started in the current window, of `ratePerSecond` rounded up).
 */
export function statsTable(stats: readonly QueueStatsView[], queues: ReadonlyMap<string, QueueConfig>): string {
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
      { header: 'groups', align: 'right' },
      { header: 'blocked', align: 'right' },
      { header: 'permits in use' },
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
      s.groups === undefined ? '–' : count(s.groups.live),
      s.groups === undefined ? '–' : count(s.groups.blocked),
      permitsText(s, queues.get(s.queue)),
      s.paused ? 'yes' : 'no',
    ]),
  );
}

/**
 * A queue with per-group limits: its groups with the most unfinished messages, one line per queue
 * (`aurora-queue groups list <queue>` has the whole table).
 */
export function topGroupsLines(stats: readonly QueueStatsView[]): string[] {
  return stats
    .filter((s) => s.topGroups !== undefined && s.topGroups.length > 0)
    .map(
      (s) =>
        `top groups of ${s.queue}: ` +
        s.topGroups!.map((g) => `${g.groupKey} ${formatCount(g.unfinished)} (${formatCount(g.running)} running${g.paused ? ', paused' : ''})`).join(', '),
    );
}

/** `run 3/10, rate 12/50`: permits taken of the queue's; `–` for a queue without queue-wide limits. */
function permitsText(stats: QueueStatsView, queue: QueueConfig | undefined): string {
  const taken = stats.permitsInUse;
  if (taken === undefined || queue === undefined) return '–';
  const parts: string[] = [];
  if (taken.run !== undefined && queue.concurrency !== undefined) parts.push(`run ${formatCount(taken.run)}/${formatCount(queue.concurrency)}`);
  if (taken.rate !== undefined && queue.ratePerSecond !== undefined)
    parts.push(`rate ${formatCount(taken.rate)}/${formatCount(Math.ceil(queue.ratePerSecond))}`);
  return parts.join(', ');
}
