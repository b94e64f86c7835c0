import { readFile } from 'node:fs/promises';
import { ENQUEUE_LIMITS } from '../../schema/messages.js';
import { enqueue, enqueueRequest, type EnqueuedMessage, type EnqueueMessage } from '../../lib/enqueue.js';
import { TooLargeError, ValidationError, type FieldIssue } from '../../lib/errors.js';
import { intOption } from '../args.js';
import type { Command } from '../command.js';
import type { CliContext } from '../context.js';
import { CliError, UsageError } from '../errors.js';
import { formatCount } from '../format.js';

/** JSON text per request, well under the 3 MiB body limit once the Data API request escapes it again. */
const MAX_CHUNK_CHARS = 1_000_000;

export const enqueueCommand: Command = {
  name: 'enqueue',
  usage:
    "<queue> (<type> '<payload json>' [--delay <s>] [--priority <n>] [--max-attempts <n>] [--dedup-key <key> [--debounce <s> | --throttle <s>]] [--group-key <key>] | --file <path|->)",
  summary: 'enqueue one message, or many from a file',
  details: [
    '  <type> <payload>    the message type (e.g. sms.send, webhook) and its payload as JSON',
    '                      (also as --type <type> --payload <json>)',
    '  --delay <s>         deliver no sooner than this many seconds from now',
    '  --debounce <s>      with --dedup-key: a waiting message with the key takes this payload and',
    '                      comes due <s> seconds from now (the last one wins); else a new message, due then',
    '  --throttle <s>      with --dedup-key: a repeat of the key within <s> seconds of the first is a',
    '                      duplicate; after that it makes a new message',
    "  --group-key <key>   the message's group on a FIFO queue (required there, refused elsewhere):",
    "                      a group's messages run one at a time, in enqueue order",
    '  --file <path|->     messages as a JSON array, {"messages": [...]}, or JSON Lines (one message',
    '                      object per line); "-" reads standard input. Sent in batches of up to 500,',
    '                      each stored whole or not at all.',
  ].join('\n'),
  options: ['type', 'payload', 'file', 'delay', 'priority', 'max-attempts', 'dedup-key', 'debounce', 'throttle', 'group-key'],
  arity: { min: 1, max: 3 },
  async run(context, [queue, ...message]) {
    if (context.options.file === undefined) {
      // As one HTTP message, so errors name `payload.to` rather than `messages[0].payload.to`.
      const {
        messages: [result],
      } = await enqueueRequest(context.app(), queue!, messageFromArgs(context, message));
      if (context.json) return context.printJson(result);
      context.print(describeSingle(context, queue!, result!));
      return;
    }

    if (message.length > 0) throw new UsageError('--file takes whole messages; give no type or payload with it', 'enqueue');
    const chunks = chunk(await messagesFromFile(context));
    const results: EnqueuedMessage[] = [];
    for (const [index, messagesOfChunk] of chunks.entries()) {
      try {
        results.push(...(await enqueue(context.app(), queue!, messagesOfChunk)));
      } catch (error) {
        const inFile = error instanceof ValidationError ? numberedFromFileStart(error, results.length) : error;
        if (index === 0) throw inFile;
        throw new CliError(
          `batch ${index + 1} of ${chunks.length} was refused, so its messages and later ones were not stored; ` +
            `the first ${formatCount(results.length)} were (re-running the whole file repeats them unless they carry a dedupKey): ` +
            describeRefusal(inFile),
          { cause: error },
        );
      }
    }

    if (context.json) return context.printJson({ messages: results });
    const duplicates = results.filter((result) => result.duplicate).length;
    context.print(
      `enqueued ${formatCount(results.length - duplicates)} message${results.length - duplicates === 1 ? '' : 's'} on ${queue}` +
        (duplicates > 0 ? ` (${formatCount(duplicates)} duplicate${duplicates === 1 ? '' : 's'} of stored messages)` : '') +
        ` in ${chunks.length} batch${chunks.length === 1 ? '' : 'es'}`,
    );
  },
};

function describeSingle(context: CliContext, queue: string, result: EnqueuedMessage): string {
  if (!result.duplicate) return `enqueued ${result.id} on ${queue}`;
  if (context.options.debounce !== undefined) return `debounced: waiting message ${result.id} takes this payload, due in ${context.options.debounce} s`;
  if (context.options.throttle !== undefined) return `throttled: the dedupKey names message ${result.id}, enqueued less than ${context.options.throttle} s ago`;
  return `duplicate: the dedupKey already names message ${result.id}`;
}

/** A batch's `messages[i]` as the message's place in the whole file: `messages[offset + i]`. */
function numberedFromFileStart(error: ValidationError, offset: number): ValidationError {
  if (offset === 0) return error;
  const renumber = (field: string) => field.replace(/^messages\[(\d+)\]/, (_, i: string) => `messages[${offset + Number(i)}]`);
  const issues: FieldIssue[] = error.issues.map((issue) => ({ ...issue, field: renumber(issue.field) }));
  return error instanceof TooLargeError ? new TooLargeError(issues) : new ValidationError(issues);
}

function describeRefusal(error: unknown): string {
  if (error instanceof ValidationError)
    return [error.message, ...(error.issues.length > 1 ? error.issues.slice(0, 20).map((i) => `  ${i.field ? `${i.field}: ` : ''}${i.message}`) : [])].join(
      '\n',
    );
  return error instanceof Error ? error.message : String(error);
}

function messageFromArgs(context: CliContext, [positionalType, positionalPayload]: readonly string[]): EnqueueMessage {
  const { options } = context;
  if (positionalType !== undefined && options.type !== undefined) throw new UsageError('give the type once: as an argument or with --type', 'enqueue');
  if (positionalPayload !== undefined && options.payload !== undefined)
    throw new UsageError('give the payload once: as an argument or with --payload', 'enqueue');
  const type = positionalType ?? options.type;
  const payloadText = positionalPayload ?? options.payload;
  if (type === undefined || payloadText === undefined) throw new UsageError('give a type and a payload, or --file', 'enqueue');
  let payload: unknown;
  try {
    payload = JSON.parse(payloadText);
  } catch (error) {
    throw new UsageError(`the payload is not valid JSON: ${error instanceof Error ? error.message : String(error)}`, 'enqueue');
  }
  const delaySeconds = intOption(options, 'delay', { min: 0, max: ENQUEUE_LIMITS.maxDelaySeconds }, 'enqueue');
  const priority = intOption(options, 'priority', { min: ENQUEUE_LIMITS.minPriority, max: ENQUEUE_LIMITS.maxPriority }, 'enqueue');
  const maxAttempts = intOption(options, 'max-attempts', { min: ENQUEUE_LIMITS.minMaxAttempts, max: ENQUEUE_LIMITS.maxMaxAttempts }, 'enqueue');
  const dedup = dedupFromArgs(context);
  return {
    type,
    payload,
    ...(delaySeconds !== undefined ? { delaySeconds } : {}),
    ...(priority !== undefined ? { priority } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
    ...(options['dedup-key'] !== undefined ? { dedupKey: options['dedup-key'] } : {}),
    ...(dedup !== undefined ? { dedup } : {}),
    ...(options['group-key'] !== undefined ? { groupKey: options['group-key'] } : {}),
  };
}

function dedupFromArgs({ options }: CliContext): EnqueueMessage['dedup'] {
  if (options.debounce !== undefined && options.throttle !== undefined) throw new UsageError('give --debounce or --throttle, not both', 'enqueue');
  const bounds = { min: 1, max: ENQUEUE_LIMITS.maxDedupSeconds };
  const debounce = intOption(options, 'debounce', bounds, 'enqueue');
  if (debounce !== undefined) return { mode: 'debounce', seconds: debounce };
  const throttle = intOption(options, 'throttle', bounds, 'enqueue');
  return throttle === undefined ? undefined : { mode: 'throttle', seconds: throttle };
}

async function messagesFromFile(context: CliContext): Promise<EnqueueMessage[]> {
  const { options } = context;
  const mixed = (['type', 'payload', 'delay', 'priority', 'max-attempts', 'dedup-key', 'debounce', 'throttle', 'group-key'] as const).filter(
    (name) => options[name] !== undefined,
  );
  if (mixed.length > 0)
    throw new UsageError(`--file takes whole messages; ${mixed.map((name) => `--${name}`).join(', ')} cannot be combined with it`, 'enqueue');
  const path = options.file!;
  const text =
    path === '-'
      ? await readAll(context.io.stdin)
      : await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
          throw new CliError(`cannot read ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
        });
  const messages = parseMessages(text, path === '-' ? 'standard input' : path);
  if (messages.length === 0) throw new CliError(`${path === '-' ? 'standard input' : path} holds no messages`);
  return messages;
}

/** A JSON array, `{ "messages": [...] }`, one message object, or JSON Lines. */
export function parseMessages(text: string, source: string): EnqueueMessage[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  try {
    const value: unknown = JSON.parse(trimmed);
    if (Array.isArray(value)) return value as EnqueueMessage[];
    if (typeof value === 'object' && value !== null && Array.isArray((value as { messages?: unknown }).messages))
      return (value as { messages: EnqueueMessage[] }).messages;
    if (typeof value === 'object' && value !== null) return [value as EnqueueMessage];
    throw new CliError(`${source}: expected a JSON array of messages, {"messages": [...]}, or one message object per line`);
  } catch (error) {
    if (error instanceof CliError) throw error;
  }
  return trimmed.split('\n').flatMap((line, index) => {
    if (line.trim() === '') return [];
    try {
      return [JSON.parse(line) as EnqueueMessage];
    } catch (error) {
      throw new CliError(`${source} line ${index + 1} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  });
}

function chunk(messages: readonly EnqueueMessage[]): EnqueueMessage[][] {
  const chunks: EnqueueMessage[][] = [];
  let current: EnqueueMessage[] = [];
  let chars = 0;
  for (const message of messages) {
    const size = JSON.stringify(message)?.length ?? 0;
    if (current.length > 0 && (current.length === ENQUEUE_LIMITS.maxBatchSize || chars + size > MAX_CHUNK_CHARS)) {
      chunks.push(current);
      current = [];
      chars = 0;
    }
    current.push(message);
    chars += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

async function readAll(stdin: AsyncIterable<string | Buffer> | undefined): Promise<string> {
  if (stdin === undefined) throw new CliError('no standard input to read');
  let text = '';
  for await (const part of stdin) text += typeof part === 'string' ? part : part.toString('utf8');
  return text;
}
