/**
 * The enqueue pipeline's checks (lib/enqueue.ts): a message against its queue and type, its
 * payload as plain JSON within the limits, and the row it makes, ids included. No database.
 */
import type { z } from 'zod';
import { ENQUEUE_LIMITS, enqueueMessage, type DedupRule } from '../schema/messages.js';
import type { App } from './app.js';
import { TooLargeError, ValidationError, type FieldIssue } from './errors.js';
import { uuidv7 } from './ids.js';
import { isGroupedQueue, type QueueConfig } from './queues.js';
import type { NewMessage } from './sql/index.js';
import { walkPlainJson, type PlainJsonFault } from './plainJson.js';
import { formatPath, issuesFromZod } from './validation.js';

export type Path = readonly PropertyKey[];

/** What checking a message needs: the configured queues and types, and the time. No database. */
export type Checker = Pick<App, 'queues' | 'jobs' | 'clock'>;

/** A message checked against its queue and type (checkMessage), ready to insert. */
export interface CheckedMessage {
  message: NewMessage;
  /** What it adds to the ExecuteStatement request that inserts it (its batch must stay under 4 MiB). */
  requestBytes: number;
  /** Debounce or throttle on its dedupKey; absent: a stored key answers a plain duplicate. */
  dedup?: DedupRule;
}

/** A checked message in the batch being inserted. */
export interface CheckedInBatch extends CheckedMessage {
  /** Set on a repeat of an earlier message's dedupKey in the same batch: that message's index. */
  sameAs: number | undefined;
}

/**
 * Checks messages against their queue and type and makes their rows, ids included; throws every
 * refusal found (ValidationError, or TooLargeError when only sizes are wrong). Writes nothing.
 */
export async function checkMessages(
  app: Checker,
  queue: QueueConfig,
  inputs: readonly { value: unknown; path: Path }[],
  now: Date,
  traceContext: string | null,
): Promise<CheckedInBatch[]> {
  const issues: FieldIssue[] = [];
  const sizeIssues: FieldIssue[] = [];
  const checked: CheckedInBatch[] = [];
  let requestBytes = 0;

  for (const { value, path } of inputs) {
    const parsed = enqueueMessage.safeParse(value);
    if (!parsed.success) {
      issues.push(...issuesFromZod(parsed.error, path));
      continue;
    }
    const message = parsed.data;
    const payloadPath = [...path, 'payload'];
    const jobType = app.jobs.get(message.type);
    if (jobType === undefined) {
      issues.push({
        field: formatPath([...path, 'type']),
        rule: 'unknown_type',
        message: `unknown message type "${message.type}" (registered: ${app.jobs.types().join(', ') || 'none'})`,
      });
      continue;
    }
    if (queue.types !== undefined && !queue.types.includes(message.type)) {
      issues.push({
        field: formatPath([...path, 'type']),
        rule: 'not_carried',
        message: `"${message.type}" is not a type queue "${queue.name}" carries (its types: ${queue.types.join(', ')})`,
      });
      continue;
    }

    const json = checkJson(message.payload, payloadPath);
    if (json.issues.length > 0) {
      issues.push(...json.issues);
      continue;
    }
    const payloadCheck = await jobType.payload.safeParseAsync(message.payload);
    if (!payloadCheck.success) {
      issues.push(...issuesFromZod(payloadCheck.error, payloadPath));
      continue;
    }
    const payloadJson = JSON.stringify(message.payload);
    const textBytes = Buffer.byteLength(payloadJson, 'utf8');
    if (textBytes > ENQUEUE_LIMITS.maxPayloadBytes) {
      sizeIssues.push({
        field: formatPath(payloadPath),
        rule: 'max_bytes',
        message: `is ${textBytes} bytes of JSON; the limit is ${ENQUEUE_LIMITS.maxPayloadBytes} bytes (1 MiB) per message`,
      });
      continue;
    }
    // Too large for its row once MySQL re-serializes it: kept in slices of its exact text.
    const parts = textBytes + json.separators > ENQUEUE_LIMITS.maxInlinePayloadBytes ? sliceUtf8(payloadJson, ENQUEUE_LIMITS.payloadPartBytes) : undefined;

    if (isGroupedQueue(queue) && message.groupKey === undefined) {
      issues.push({
        field: formatPath([...path, 'groupKey']),
        rule: 'required',
        message: queue.fifo
          ? `is required: queue "${queue.name}" is a FIFO queue, whose messages run in order within their group`
          : `is required: queue "${queue.name}" limits its messages per group (groups in queue.config.ts), so each message names its group`,
      });
      continue;
    }
    if (!isGroupedQueue(queue) && message.groupKey !== undefined) {
      issues.push({
        field: formatPath([...path, 'groupKey']),
        // The rule's name predates groups; kept, since clients match on it.
        rule: 'not_fifo',
        message: `is only accepted by FIFO queues and queues with groups; queue "${queue.name}" is neither (declare it with fifo: true or groups: {...} in queue.config.ts)`,
      });
      continue;
    }
    const availableAt =
      message.dedup?.mode === 'debounce' ? new Date(now.getTime() + message.dedup.seconds * 1_000) : resolveAvailableAt(message, now, path, issues);
    if (availableAt === undefined) continue;
    // The slices go in calls of their own; the message's insert carries only its row.
    const messageBytes = encodedRequestBytes(
      parts === undefined ? payloadJson : 'null',
      (message.dedupKey ?? '') + (message.groupKey ?? '') + (traceContext ?? ''),
    );
    requestBytes += messageBytes;
    checked.push({
      requestBytes: messageBytes,
      message: {
        id: uuidv7(now.getTime()),
        queue: queue.name,
        type: message.type,
        payloadJson: parts === undefined ? payloadJson : 'null',
        ...(parts === undefined ? {} : { parts }),
        priority: message.priority ?? 0,
        maxAttempts: message.maxAttempts ?? jobType.maxAttempts ?? queue.maxAttempts,
        availableAt,
        dedupKey: message.dedupKey ?? null,
        groupKey: message.groupKey ?? null,
        traceContext,
      },
      ...(message.dedup === undefined ? {} : { dedup: message.dedup }),
      sameAs: undefined,
    });
  }

  if (issues.length > 0) throw new ValidationError([...issues, ...sizeIssues]);
  if (sizeIssues.length > 0) throw new TooLargeError(sizeIssues);
  if (requestBytes > ENQUEUE_LIMITS.maxRequestBytes) {
    throw new TooLargeError([
      {
        field: inputs.length > 1 ? 'messages' : '',
        rule: 'max_request_bytes',
        message: `the batch would be ${requestBytes} bytes as one Data API request; the limit is 4 MiB (send fewer messages per request)`,
      },
    ]);
  }
  return checked;
}

function resolveAvailableAt(message: z.output<typeof enqueueMessage>, now: Date, path: Path, issues: FieldIssue[]): Date | undefined {
  if (message.availableAt === undefined) return new Date(now.getTime() + (message.delaySeconds ?? 0) * 1_000);
  const at = new Date(message.availableAt);
  const latest = now.getTime() + ENQUEUE_LIMITS.maxDelaySeconds * 1_000;
  if (at.getTime() > latest) {
    issues.push({
      field: formatPath([...path, 'availableAt']),
      rule: 'too_big',
      message: `must be at most ${ENQUEUE_LIMITS.maxDelaySeconds} seconds (365 days) from now`,
    });
    return undefined;
  }
  // A time in the past means now: an older available_at would jump ahead of messages already waiting.
  return at.getTime() < now.getTime() ? now : at;
}

/**
 * Checks that a payload is plain JSON that MySQL will store as given: no lone surrogates, no
 * numbers JSON cannot carry, no nesting past what MySQL and MariaDB accept. Also counts the
 * `,` and `:` separators, after each of which MySQL's JSON output adds a space.
 */
function checkJson(value: unknown, path: Path): { issues: FieldIssue[]; separators: number } {
  const issues: FieldIssue[] = [];
  let separators = 0;
  walkPlainJson(value, {
    maxDepth: ENQUEUE_LIMITS.maxPayloadDepth,
    onContainer: (kind, size) => {
      separators += (kind === 'object' ? size : 0) + Math.max(0, size - 1);
    },
    onFault: (fault, at, node) => {
      // Too deep is said of the whole payload.
      const issue = jsonIssue(fault, fault === 'max_depth' ? path : [...path, ...at], node);
      if (issue !== undefined) issues.push(issue);
      return issues.length < 5;
    },
  });
  return { issues, separators };
}

/** The issue a payload's fault makes; undefined for entries JSON.stringify drops or keeps as given. */
function jsonIssue(fault: PlainJsonFault, at: Path, node: unknown): FieldIssue | undefined {
  const field = formatPath(at);
  switch (fault) {
    case 'finite_number':
      return { field, rule: 'finite_number', message: 'must be a finite number' };
    case 'lone_surrogate':
      return { field, rule: 'unicode', message: 'must be valid Unicode (no lone surrogates)' };
    case 'lone_surrogate_key':
      return { field, rule: 'unicode', message: 'key must be valid Unicode (no lone surrogates)' };
    case 'not_json':
      return { field, rule: 'json', message: `must be a JSON value, got ${typeof node === 'object' ? 'a non-plain object' : typeof node}` };
    case 'max_depth':
      return { field, rule: 'max_depth', message: `nests arrays and objects more than ${ENQUEUE_LIMITS.maxPayloadDepth} levels deep` };
    default:
      return undefined;
  }
}

/*
 * What one message adds to the ExecuteStatement request: the batch travels as a JSON document in a
 * string parameter, so the payload's JSON text is escaped once inside that document and again by
 * the request's own JSON: every `"` and `\` of it becomes four bytes. The rest of the row (ids,
 * keys, numbers) is given a generous fixed allowance.
 */
export function encodedRequestBytes(payloadJson: string, keys: string): number {
  let escaped = 0;
  for (let i = 0; i < payloadJson.length; i++) {
    const c = payloadJson.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) escaped += 1;
  }
  const keyBytes = Buffer.byteLength(keys, 'utf8') * 4;
  return Buffer.byteLength(payloadJson, 'utf8') + escaped * 3 + keyBytes + 512;
}

/** `text` in slices of at most `maxBytes` UTF-8 bytes, never splitting a character. */
function sliceUtf8(text: string, maxBytes: number): string[] {
  const slices: string[] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < text.length;) {
    const code = text.codePointAt(i)!;
    const width = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    const units = code >= 0x10000 ? 2 : 1;
    if (bytes + width > maxBytes) {
      slices.push(text.slice(start, i));
      start = i;
      bytes = 0;
    }
    bytes += width;
    i += units;
  }
  slices.push(text.slice(start));
  return slices;
}
