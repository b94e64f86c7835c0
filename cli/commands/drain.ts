import { drain, type DrainSummary } from '../../lib/drain/index.js';
import { intOption } from '../args.js';
import type { Command } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError } from '../errors.js';
import { formatCount, formatDuration, formatTable } from '../format.js';
import { LOCAL_LAMBDA_ENDPOINT } from '../target.js';

/** What a drain Lambda may run for by default (drainTimeoutSeconds in serverless.yml). */
const DEFAULT_IN_PROCESS_SECONDS = 60;

export const drainCommand: Command = {
  name: 'drain',
  usage: '[--queue <name>] [--max-messages <n>] [--in-process [--timeout <s>] | --function <name> | --stage <stage>]',
  summary: 'run one drain now, through the drain Lambda (or in this process)',
  details: [
    '  Invokes the drain function: DRAIN_FUNCTION_NAME or --function, else aurora-queue-<stage>-drain',
    '  (--stage, else STAGE, else "local" for the local stack and "dev" on AWS). LAMBDA_ENDPOINT points',
    `  at serverless offline (default ${LOCAL_LAMBDA_ENDPOINT} when the target is the local stack).`,
    '  --in-process     drain here instead, with this environment (SMS_PROVIDER_URL, WEBHOOK_*...)',
    `  --timeout <s>    how long the in-process run may take (default ${DEFAULT_IN_PROCESS_SECONDS})`,
  ].join('\n'),
  options: ['queue', 'max-messages', 'in-process', 'timeout', 'function', 'stage'],
  arity: { min: 0, max: 0 },
  async run(context) {
    const queue = context.options.queue;
    const maxMessages = intOption(context.options, 'max-messages', { min: 1, max: 1_000_000 }, 'drain');
    const summary =
      context.options['in-process'] === true ? await drainInProcess(context, queue, maxMessages) : await drainThroughLambda(context, queue, maxMessages);
    if (context.json) context.printJson(summary);
    else context.print(isDrainSummary(summary) ? drainSummaryText(summary) : `drain answered: ${JSON.stringify(summary)}`);
    if (isDrainSummary(summary) && summary.errors.length > 0) {
      throw new CliError(`the drain run reported ${summary.errors.length} error${summary.errors.length === 1 ? '' : 's'}:\n  ${summary.errors.join('\n  ')}`);
    }
  },
};

async function drainInProcess(context: CliContext, queue: string | undefined, maxMessages: number | undefined): Promise<DrainSummary> {
  if (context.options.function !== undefined || context.options.stage !== undefined)
    throw new CliError('--in-process runs no function: drop --function / --stage');
  const seconds = intOption(context.options, 'timeout', { min: 1, max: 3_600 }, 'drain') ?? DEFAULT_IN_PROCESS_SECONDS;
  const deadline = Date.now() + seconds * 1_000;
  // The queues' overview (a Map) is for the run's wakes and metrics, not the printed summary.
  const { overview: _overview, ...summary } = await drain(context.app(), {
    ...(queue !== undefined ? { queue } : {}),
    ...(maxMessages !== undefined ? { maxMessages } : {}),
    remainingTimeMs: () => deadline - Date.now(),
    ...(context.io.interruptSignal !== undefined ? { signal: context.io.interruptSignal() } : {}),
  });
  return summary;
}

async function drainThroughLambda(context: CliContext, queue: string | undefined, maxMessages: number | undefined): Promise<unknown> {
  if (context.options.timeout !== undefined) throw new CliError('--timeout is for --in-process; the function has its own timeout');
  const { env } = context.io;
  // The local stack unless the environment names a cluster: the same rule as the database target.
  const localStack = !env.DB_CLUSTER_ARN?.trim();
  const endpoint = env.LAMBDA_ENDPOINT?.trim() || (localStack ? LOCAL_LAMBDA_ENDPOINT : undefined);
  const stage = context.options.stage ?? (env.STAGE?.trim() || (endpoint !== undefined ? 'local' : 'dev'));
  const functionName = context.options.function ?? (env.DRAIN_FUNCTION_NAME?.trim() || `aurora-queue-${stage}-drain`);
  // The Lambda client loads only for this command: every other command starts faster without it.
  const { invokeDrain } = await import('../invokeDrain.js');
  return invokeDrain({
    functionName,
    endpoint,
    region: env.AWS_REGION?.trim() || 'us-east-1',
    event: { ...(queue !== undefined ? { queue } : {}), ...(maxMessages !== undefined ? { maxMessages } : {}) },
    hasCredentials: Boolean(env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) || Boolean(env.AWS_PROFILE),
  });
}

function isDrainSummary(value: unknown): value is DrainSummary {
  return typeof value === 'object' && value !== null && Array.isArray((value as DrainSummary).queues) && typeof (value as DrainSummary).claimed === 'number';
}

export function drainSummaryText(summary: DrainSummary): string {
  const count = (n: number) => formatCount(n);
  const rows = summary.queues.map((q) => [
    q.queue,
    count(q.claimed),
    count(q.done),
    count(q.retried),
    count(q.dead),
    count(q.cancelled),
    count(q.released),
    count(q.lostLeases),
    count(q.unsettled),
    count(q.deleted),
    q.stoppedBecause,
  ]);
  if (summary.queues.length > 1) {
    rows.push([
      'total',
      count(summary.claimed),
      count(summary.done),
      count(summary.retried),
      count(summary.dead),
      count(summary.cancelled),
      count(summary.released),
      count(summary.lostLeases),
      count(summary.unsettled),
      count(summary.deleted),
      '',
    ]);
  }
  const lines = [
    formatTable(
      [
        { header: 'queue' },
        { header: 'claimed', align: 'right' },
        { header: 'done', align: 'right' },
        { header: 'retried', align: 'right' },
        { header: 'dead', align: 'right' },
        { header: 'cancelled', align: 'right' },
        { header: 'released', align: 'right' },
        { header: 'lost leases', align: 'right' },
        { header: 'unsettled', align: 'right' },
        { header: 'deleted', align: 'right' },
        { header: 'stopped because' },
      ],
      rows,
    ).trimEnd(),
    `drained in ${formatDuration(summary.durationMs)} with ${count(summary.dataApiCalls)} Data API call${summary.dataApiCalls === 1 ? '' : 's'}`,
  ];
  if (summary.pausedQueues.length > 0) lines.push(`paused, skipped: ${summary.pausedQueues.join(', ')}`);
  return `${lines.join('\n')}\n`;
}
