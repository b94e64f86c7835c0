import { systemClock } from '../../lib/clock.js';
import { nextSlot, planRecurring, type RecurringPlan } from '../../lib/recurring.js';
import type { Command } from '../command.js';
import { formatTable } from '../format.js';

export interface RecurringView {
  name: string;
  schedule: string;
  timezone: string;
  queue: string;
  type: string;
  catchUp: number;
  /** ISO 8601 UTC; null when the schedule has no slot left (its years have passed). */
  nextSlot: string | null;
}

export const recurringCommand: Command = {
  name: 'recurring',
  usage: '',
  summary: "the recurring messages of queue.config.ts, with each one's next slot",
  details: [
    '  Every drain run enqueues the slots that are due, each once (see README: Recurring messages).',
    '  Reads the config only; nothing is asked of the database.',
  ].join('\n'),
  options: [],
  arity: { min: 0, max: 0 },
  async run(context) {
    const now = systemClock.now();
    const views = recurringViews(planRecurring(context.io.config.recurring ?? []), now);
    if (context.json) return context.printJson(views);
    if (views.length === 0) return context.print('no recurring messages: declare them under `recurring` in queue.config.ts');
    context.print(recurringTable(views, now));
  },
};

export function recurringViews(plans: readonly RecurringPlan[], now: Date): RecurringView[] {
  return plans.map((plan) => ({
    name: plan.name,
    schedule: plan.schedule,
    timezone: plan.timezone ?? 'UTC',
    queue: plan.queue,
    type: plan.type,
    catchUp: plan.catchUp ?? 1,
    nextSlot: nextSlot(plan, now)?.toISOString() ?? null,
  }));
}

function recurringTable(views: readonly RecurringView[], now: Date): string {
  return formatTable(
    [
      { header: 'name' },
      { header: 'schedule' },
      { header: 'timezone' },
      { header: 'queue' },
      { header: 'type' },
      { header: 'catch-up', align: 'right' },
      { header: 'next slot' },
    ],
    views.map((view) => [
      view.name,
      view.schedule,
      view.timezone,
      view.queue,
      view.type,
      String(view.catchUp),
      view.nextSlot === null ? 'none (no slot left)' : `${view.nextSlot} (in ${untilText(Date.parse(view.nextSlot) - now.getTime())})`,
    ]),
  );
}

/** `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`: how far off a slot is, to the unit that matters. */
function untilText(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 1) return `${Math.max(0, Math.ceil(ms / 1_000))} s`;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}
