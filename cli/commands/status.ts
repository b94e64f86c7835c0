import type { MessageView } from '../../schema/messages.js';
import { getMessageStatus } from '../../lib/messages.js';
import type { Command } from '../command.js';
import { formatFields } from '../format.js';

export const statusCommand: Command = {
  name: 'status',
  usage: '<id>',
  summary: "a message's status, attempts, last error, progress and result",
  options: [],
  arity: { min: 1, max: 1 },
  async run(context, [id]) {
    const message = await getMessageStatus(context.app(), id!.trim().toLowerCase());
    if (context.json) return context.printJson(message);
    context.print(formatFields(messageFields(message)));
  },
};

export function messageFields(message: MessageView): [string, string][] {
  return [
    ['id', message.id],
    ['queue', message.queue],
    ['type', message.type],
    ['status', message.status],
    ['attempts', `${message.attempts} of ${message.maxAttempts}`],
    ['priority', String(message.priority)],
    ['available at', message.availableAt],
    ['created at', message.createdAt],
    ['updated at', message.updatedAt],
    ...optionalField('finished at', message.finishedAt),
    ...optionalField('dedup key', message.dedupKey),
    ...optionalField('trace', message.traceId),
    ...optionalField('last error', message.lastError),
    ...optionalField('progress', message.progressAt === undefined ? undefined : `${JSON.stringify(message.progress)} (at ${message.progressAt})`),
    ...optionalField('result', message.result === undefined ? undefined : clippedJson(message.result)),
  ];
}

/** The longest result a table row shows; --json shows it whole. */
export const RESULT_ROW_CHARS = 200;

function clippedJson(value: unknown): string {
  const text = JSON.stringify(value);
  return text.length <= RESULT_ROW_CHARS ? text : `${text.slice(0, RESULT_ROW_CHARS)}… (${text.length} characters; --json shows it whole)`;
}

/** A field the message may not have: a row when it does, none (not an empty one) when it does not. */
function optionalField(label: string, value: string | undefined): [string, string][] {
  return value === undefined ? [] : [[label, value]];
}
