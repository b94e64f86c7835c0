import { DEAD_LETTER_LIMITS } from '../../schema/messages.js';
import { clip } from '../../lib/clip.js';
import { isUuid } from '../../lib/ids.js';
import { listDeadLetters, purgeDeadLetters, redrive, type BulkResult } from '../../lib/operations.js';
import { intOption, listOption } from '../args.js';
import type { Command } from '../command.js';
import type { CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatCount, formatTable, oneLine } from '../format.js';

export const deadListCommand: Command = {
  name: 'dead list',
  usage: '<queue> [--limit <n>] [--after <id>]',
  summary: "a queue's dead letters, oldest first, with their last errors",
  details: `  --limit <n>    at most n (1-${DEAD_LETTER_LIMITS.maxPage}, default ${DEAD_LETTER_LIMITS.defaultPage}); --json includes payloads\n  --after <id>   the next page after this id`,
  options: ['limit', 'after'],
  arity: { min: 1, max: 1 },
  async run(context, [queue]) {
    const limit = intOption(context.options, 'limit', { min: 1, max: DEAD_LETTER_LIMITS.maxPage }, 'dead list');
    const after = context.options.after;
    if (after !== undefined && !isUuid(after.toLowerCase())) throw new UsageError(`--after must be a message id (a UUID), got "${after}"`, 'dead list');
    const page = await listDeadLetters(context.app(), queue!, {
      ...(limit !== undefined ? { limit } : {}),
      ...(after !== undefined ? { after: after.toLowerCase() } : {}),
    });
    if (context.json) return context.printJson(page);
    if (page.messages.length === 0) return context.print(after === undefined ? `no dead letters on ${queue}` : `no more dead letters on ${queue}`);
    context.print(
      formatTable(
        [{ header: 'id' }, { header: 'type' }, { header: 'attempts', align: 'right' }, { header: 'dead since' }, { header: 'last error' }],
        page.messages.map((m) => [m.id, m.type, String(m.attempts), m.finishedAt ?? '', clip(oneLine(m.lastError ?? ''), { chars: 100 })]),
      ),
    );
    if (page.next !== undefined) context.print(`more: dead list ${queue} --after ${page.next}`);
  },
};

export const deadRedriveCommand: Command = {
  name: 'dead redrive',
  usage: '<queue> [<id>... | --limit <n>]',
  summary: 'send dead letters back to waiting with attempts reset: the given ids, at most n, or all',
  details: '  ids may also be given as --ids <id,id,...>',
  options: ['ids', 'limit'],
  arity: { min: 1, max: 1 + DEAD_LETTER_LIMITS.maxBulk },
  async run(context, [queue, ...ids]) {
    const selection = bulkSelection(context, ids, 'dead redrive');
    const result = await repeatBulk(selection, (limit) => redrive(context.app(), queue!, { ...selection.call, ...(limit !== undefined ? { limit } : {}) }));
    if (context.json) return context.printJson(result);
    const { notCarried } = result;
    context.print(
      `redrove ${formatCount(result.count)} dead letter${result.count === 1 ? '' : 's'} of ${queue}${result.more ? ' (more remain: run again)' : ''}`,
    );
    if (notCarried > 0) {
      const [subject, is, has] = notCarried === 1 ? ['its job type', 'is', 'has'] : ['their job types', 'are', 'have'];
      context.print(`left ${formatCount(notCarried)} dead: ${subject} ${is} not carried by ${queue} or ${has} no handler (see its types in queue.config.ts)`);
    }
  },
};

export const deadPurgeCommand: Command = {
  name: 'dead purge',
  usage: '<queue> (<id>... | --all [--limit <n>])',
  summary: 'delete dead letters for good: the given ids, or all (--all)',
  details: '  ids may also be given as --ids <id,id,...>',
  options: ['ids', 'all', 'limit'],
  arity: { min: 1, max: 1 + DEAD_LETTER_LIMITS.maxBulk },
  async run(context, [queue, ...ids]) {
    const selection = bulkSelection(context, ids, 'dead purge');
    if (selection.call.ids === undefined && context.options.all !== true)
      throw new UsageError('purging is for good: name the dead letters by id, or say --all', 'dead purge');
    if (selection.call.ids !== undefined && context.options.all === true) throw new UsageError('give ids or --all, not both', 'dead purge');
    const which = selection.call.ids !== undefined ? { ids: selection.call.ids } : { all: true as const };
    const result = await repeatBulk(selection, (limit) => purgeDeadLetters(context.app(), queue!, which, limit !== undefined ? { limit } : {}));
    if (context.json) return context.printJson(result);
    context.print(
      `purged ${formatCount(result.count)} dead letter${result.count === 1 ? '' : 's'} of ${queue}${result.more ? ' (more remain: run again)' : ''}`,
    );
  },
};

interface BulkSelection {
  call: { ids?: string[] };
  /** What the user asked for in total; undefined = everything. */
  limit: number | undefined;
}

function bulkSelection(context: CliContext, positionalIds: readonly string[], command: string): BulkSelection {
  const optionIds = listOption(context.options, 'ids');
  if (optionIds !== undefined && positionalIds.length > 0) throw new UsageError('give the ids as arguments or with --ids, not both', command);
  const ids = (optionIds ?? (positionalIds.length > 0 ? [...positionalIds] : undefined))?.map((id) => id.toLowerCase());
  if (ids !== undefined) {
    if (ids.length === 0) throw new UsageError('--ids names no id', command);
    const bad = ids.find((id) => !isUuid(id));
    if (bad !== undefined) throw new UsageError(`"${bad}" is not a message id (a UUID)`, command);
    if (ids.length > DEAD_LETTER_LIMITS.maxBulk) throw new UsageError(`at most ${DEAD_LETTER_LIMITS.maxBulk} ids per call`, command);
    if (context.options.limit !== undefined) throw new UsageError('give ids or --limit, not both', command);
    return { call: { ids }, limit: undefined };
  }
  return { call: {}, limit: intOption(context.options, 'limit', { min: 1, max: DEAD_LETTER_LIMITS.maxBulk }, command) };
}

/**
 * One call per at most 1,000 dead letters (so no statement holds locks on a huge range), repeated
 * until the selection is done. Ids and an explicit --limit are one call. The answer is the last
 * call's, with the count of them all.
 */
async function repeatBulk<R extends BulkResult>(selection: BulkSelection, call: (limit: number | undefined) => Promise<R>): Promise<R> {
  if (selection.call.ids !== undefined || selection.limit !== undefined) return call(selection.limit);
  let count = 0;
  for (;;) {
    const result = await call(undefined);
    count += result.count;
    if (!result.more || result.count === 0) return { ...result, count, more: false };
  }
}
