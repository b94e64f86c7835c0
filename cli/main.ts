/**
 * `aurora-queue`: operate a queue from the terminal, against the local stack or a deployed one.
 * `runCli` is the whole program minus the process: it takes argv and an io, answers an exit code.
 */
import { DataApiUnavailableError, DatabaseError } from '../lib/db/index.js';
import { UnknownQueueError } from '../lib/drain/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../lib/errors.js';
import { MigrationError } from '../lib/migrate.js';
import { parseCliArgs, type OptionName } from './args.js';
import type { Command } from './command.js';
import { cancelCommand } from './commands/cancel.js';
import { dashboardCommand } from './commands/dashboard.js';
import { deadListCommand, deadPurgeCommand, deadRedriveCommand } from './commands/dead.js';
import { doctorCommand } from './commands/doctor.js';
import { drainCommand } from './commands/drain.js';
import { enqueueCommand } from './commands/enqueue.js';
import { groupsListCommand, groupsPauseCommand, groupsResumeCommand, groupsSetCommand } from './commands/groups.js';
import { migrateCommand } from './commands/migrate.js';
import { pauseCommand, resumeCommand } from './commands/pause.js';
import { recurringCommand } from './commands/recurring.js';
import { statsCommand } from './commands/stats.js';
import { statusCommand } from './commands/status.js';
import { CliContext, type CliIo } from './context.js';
import { CliError, UsageError } from './errors.js';

export type { CliIo, Output } from './context.js';

export const COMMANDS: readonly Command[] = [
  migrateCommand,
  enqueueCommand,
  statusCommand,
  cancelCommand,
  statsCommand,
  deadListCommand,
  deadRedriveCommand,
  deadPurgeCommand,
  pauseCommand,
  resumeCommand,
  groupsListCommand,
  groupsSetCommand,
  groupsPauseCommand,
  groupsResumeCommand,
  drainCommand,
  dashboardCommand,
  doctorCommand,
  recurringCommand,
];

const GLOBAL_OPTIONS: readonly OptionName[] = ['json', 'help'];

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** Issues of a refused input listed under its message, as the HTTP API lists them. */
const MAX_LISTED_ISSUES = 20;

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let context: CliContext | undefined;
  let command: Command | undefined;
  try {
    const args = parseCliArgs(argv);
    const found = findCommand(args.positionals);
    if (found === undefined) {
      if (args.positionals.length === 0) {
        io[args.options.help ? 'stdout' : 'stderr'].write(overview());
        return args.options.help ? EXIT.ok : EXIT.usage;
      }
      throw new UsageError(`unknown command "${args.positionals.slice(0, actionsOf(args.positionals[0]).length > 0 ? 2 : 1).join(' ')}"`);
    }
    command = found.command;
    if (args.options.help) {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    const stray = args.given.find((name) => !GLOBAL_OPTIONS.includes(name) && !command!.options.includes(name));
    if (stray !== undefined) throw new UsageError(`--${stray} is not an option of ${command.name}`, command.name);
    const { rest } = found;
    if (rest.length < command.arity.min) throw new UsageError(`missing argument${command.arity.min - rest.length > 1 ? 's' : ''}`, command.name);
    if (rest.length > command.arity.max) throw new UsageError(`unexpected argument "${rest[command.arity.max]}"`, command.name);
    context = new CliContext(io, args.options, rest);
    await command.run(context, rest);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      const usageOf = COMMANDS.find((c) => c.name === (error.command ?? command?.name));
      io.stderr.write(
        `aurora-queue: ${error.message}\n${usageOf ? `usage: aurora-queue ${usageOf.name} ${usageOf.usage}\n` : 'run `aurora-queue --help` for the commands\n'}`,
      );
      return EXIT.usage;
    }
    io.stderr.write(`aurora-queue${command ? ` ${command.name}` : ''}: ${describeError(error, context)}\n`);
    return EXIT.failed;
  } finally {
    context?.close();
  }
}

function findCommand(positionals: readonly string[]): { command: Command; rest: string[] } | undefined {
  const [first, second] = positionals;
  const actions = actionsOf(first);
  if (actions.length > 0) {
    if (second === undefined) throw new UsageError(`${first} needs an action: ${actions.slice(0, -1).join(', ')} or ${actions.at(-1)}`);
    const command = COMMANDS.find((c) => c.name === `${first} ${second}`);
    return command && { command, rest: positionals.slice(2) };
  }
  const command = COMMANDS.find((c) => c.name === first);
  return command && { command, rest: positionals.slice(1) };
}

/** The actions of a two-word command (`dead` → list, redrive, purge); none for a one-word one. */
function actionsOf(first: string | undefined): string[] {
  if (first === undefined) return [];
  return COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
}

/** One line a person can act on: what failed, and where the CLI was pointed when it matters. */
function describeError(error: unknown, context: CliContext | undefined): string {
  if (error instanceof CliError || error instanceof UnknownQueueError || error instanceof MigrationError) return error.message;
  if (error instanceof NotFoundError || error instanceof ConflictError) return error.message;
  if (error instanceof ValidationError) {
    const listed = error.issues.length > 1 ? error.issues.slice(0, MAX_LISTED_ISSUES) : [];
    return `${error.message}${listed.map((issue) => `\n  ${issue.field ? `${issue.field}: ` : ''}${issue.message}`).join('')}`;
  }
  const target = safeTarget(context);
  if (error instanceof DataApiUnavailableError) {
    const hint = target?.local
      ? ' Is the local stack running? Start it with `npm start` (or `npm run data-api`).'
      : ' Check AWS credentials, AWS_REGION and the cluster ARN.';
    return `cannot reach ${target?.description ?? 'the Data API'}: ${error.message}.${hint}`;
  }
  if (error instanceof DatabaseError) {
    const missingTable = error.mysqlCode === 1146 || error.mysqlCode === 1049;
    return `${error.message}${target ? ` (${target.description})` : ''}${missingTable ? '. Has the schema been created? Run `aurora-queue migrate`.' : ''}`;
  }
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return String(error);
}

function safeTarget(context: CliContext | undefined) {
  try {
    return context?.target;
  } catch {
    return undefined;
  }
}

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: aurora-queue <command> [arguments] [--json]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Every command prints a table by default and JSON with --json; `aurora-queue <command> --help` for more.',
    'Target: DB_CLUSTER_ARN, DB_SECRET_ARN, DB_NAME (AWS), or DATA_API_ENDPOINT (a local Data API server);',
    'with none set, the local stack of `npm start` (Data API on 127.0.0.1:8087, database aurora_queue).',
    'Exit codes: 0 done, 1 failed, 2 wrong arguments.',
    '',
  ].join('\n');
}

function commandHelp(command: Command): string {
  return [
    `usage: aurora-queue ${command.name} ${command.usage}`.trimEnd(),
    '',
    `${command.summary}.`,
    ...(command.details ? ['', command.details] : []),
    '',
    '  --json   print JSON instead of a table',
    '',
  ].join('\n');
}
