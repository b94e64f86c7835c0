import type { z } from 'zod';
import { listGroups, pauseGroup, resumeGroup, setGroupLimits } from '../../lib/groups.js';
import { GROUP_LIST_DEFAULT, GROUP_LIST_LIMIT, groupLimitsChange, type GroupList, type GroupView } from '../../schema/groups.js';
import { intOption, type OptionName, type Options } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';
import { formatCount, formatTable } from '../format.js';

export const groupsListCommand: Command = {
  name: 'groups list',
  usage: '<queue> [--limit <n>]',
  summary: "a grouped queue's groups with the most backlog, and those paused or with limits of their own",
  details: [
    `  --limit <n>   the n groups with the most unfinished messages (1-${GROUP_LIST_LIMIT}, default ${GROUP_LIST_DEFAULT});`,
    `                the paused and set groups are listed up to ${GROUP_LIST_LIMIT} whatever n is`,
    "  limits: whether a group's concurrency and rate are its own (groups set) or the queue's",
  ].join('\n'),
  options: ['limit'],
  arity: { min: 1, max: 1 },
  async run(context, [queue]) {
    const limit = intOption(context.options, 'limit', { min: 1, max: GROUP_LIST_LIMIT }, 'groups list');
    const list = await listGroups(context.app(), queue!, limit !== undefined ? { limit } : {});
    if (context.json) return context.printJson(list);
    context.print(groupListText(list));
  },
};

export const groupsSetCommand: Command = {
  name: 'groups set',
  usage: '<queue> <groupKey> [--concurrency <n>|default] [--rate <r>|default]',
  summary: "give one group its own concurrency or rate, or the queue's back; every drain's next claim sees it",
  details: [
    '  --concurrency <n>   most messages of the group in flight at once, across every drain',
    '  --rate <r>          most starts of the group per second (decimals allowed, e.g. 0.5)',
    "  default             instead of a number: the queue's per-group limit applies again",
  ].join('\n'),
  options: ['concurrency', 'rate'],
  arity: { min: 2, max: 2 },
  async run(context, [queue, groupKey]) {
    const concurrency = limitOption(context.options, 'concurrency', groupLimitsChange.shape.concurrency);
    const ratePerSecond = limitOption(context.options, 'rate', groupLimitsChange.shape.ratePerSecond);
    if (concurrency === undefined && ratePerSecond === undefined) {
      throw new UsageError("give --concurrency or --rate (a number, or default for the queue's own)", 'groups set');
    }
    const group = await setGroupLimits(context.app(), queue!, groupKey!, {
      ...(concurrency !== undefined ? { concurrency } : {}),
      ...(ratePerSecond !== undefined ? { ratePerSecond } : {}),
    });
    if (context.json) return context.printJson(group);
    context.print(`group ${groupKey} of ${queue}: concurrency ${limitText(group, 'concurrency')}, rate ${limitText(group, 'ratePerSecond')}`);
  },
};

export const groupsPauseCommand: Command = {
  name: 'groups pause',
  usage: '<queue> <groupKey>',
  summary: "stop drains from starting one group's messages (running ones finish, enqueue goes on)",
  options: [],
  arity: { min: 2, max: 2 },
  async run(context, [queue, groupKey]) {
    const group = await pauseGroup(context.app(), queue!, groupKey!);
    if (context.json) return context.printJson(group);
    context.print(
      `group ${groupKey} of ${queue} paused: drains start none of its messages (${formatCount(group.unfinished)} unfinished) until \`groups resume ${queue} ${shellWord(groupKey!)}\``,
    );
  },
};

export const groupsResumeCommand: Command = {
  name: 'groups resume',
  usage: '<queue> <groupKey>',
  summary: "let drains start one group's messages again",
  options: [],
  arity: { min: 2, max: 2 },
  async run(context, [queue, groupKey]) {
    const group = await resumeGroup(context.app(), queue!, groupKey!);
    if (context.json) return context.printJson(group);
    context.print(`group ${groupKey} of ${queue} resumed`);
  },
};

const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)$/;

/**
 * `--concurrency 5` → 5, `--concurrency default` → null (back to the queue's), absent → undefined.
 * The number is held to the API's rule (schema/groups.ts groupLimitsChange), so a refusal names the option and that rule.
 */
function limitOption(options: Options, name: OptionName, rule: z.ZodType): number | null | undefined {
  const raw = options[name];
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  const text = raw.trim();
  if (text.toLowerCase() === 'default') return null;
  if (!NUMBER.test(text)) throw new UsageError(`--${name} must be a number, or default for the queue's own, got "${raw}"`, 'groups set');
  const parsed = rule.safeParse(Number(text));
  if (!parsed.success) throw new UsageError(`--${name} ${parsed.error.issues[0]!.message}, got "${raw}"`, 'groups set');
  return Number(text);
}

/** A concurrency and a rate as the tables show them: `–` for none. */
const concurrencyText = (value: number | null) => (value === null ? '–' : formatCount(value));
const rateText = (value: number | null) => (value === null ? '–' : `${value}/s`);

/** The queue's declared limits, then the top groups and the paused or set ones, a table each. */
function groupListText(list: GroupList): string {
  const { declared } = list;
  const header =
    `queue ${list.queue}, per group: concurrency ${concurrencyText(declared.concurrency)}, ` +
    `rate ${rateText(declared.ratePerSecond)}, fair ${declared.fair ? 'yes' : 'no'}`;
  const top = list.top.length === 0 ? 'no group has unfinished messages\n' : `most backlog:\n${groupTable(list.top)}`;
  const setNote = list.set.length === GROUP_LIST_LIMIT ? ` (the first ${GROUP_LIST_LIMIT} by key)` : '';
  const set =
    list.set.length === 0 ? 'no group is paused or has limits of its own\n' : `paused or with limits of their own${setNote}:\n${groupTable(list.set)}`;
  return `${header}\n\n${top}\n${set}`;
}

function groupTable(groups: readonly GroupView[]): string {
  return formatTable(
    [
      { header: 'group' },
      { header: 'unfinished', align: 'right' },
      { header: 'running', align: 'right' },
      { header: 'state' },
      { header: 'concurrency', align: 'right' },
      { header: 'rate', align: 'right' },
      { header: 'limits' },
    ],
    groups.map((g) => [
      g.groupKey,
      formatCount(g.unfinished),
      formatCount(g.running),
      g.state,
      concurrencyText(g.concurrency),
      rateText(g.ratePerSecond),
      limitsOrigin(g),
    ]),
  );
}

/** Whose limits apply: `own`, `queue's`, or `own concurrency` / `own rate` when one is the group's. */
function limitsOrigin(group: GroupView): string {
  const { concurrency, ratePerSecond } = group.overridden;
  if (concurrency && ratePerSecond) return 'own';
  if (concurrency) return 'own concurrency';
  if (ratePerSecond) return 'own rate';
  return "queue's";
}

/** `5 (own)`, `2 (queue's)`, `none (queue's)`. */
function limitText(group: GroupView, limit: 'concurrency' | 'ratePerSecond'): string {
  const value = group[limit];
  const text = value === null ? 'none' : limit === 'concurrency' ? concurrencyText(value) : rateText(value);
  return `${text} (${group.overridden[limit] ? 'own' : "queue's"})`;
}

/** A group key as it can be typed back in a shell: as is when plain, else in single quotes. */
function shellWord(text: string): string {
  return /^[\w.:@/+=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
