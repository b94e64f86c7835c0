/**
 * The API's message shapes, beside the SQL schema they are stored in. These schemas check shape
 * and ranges; what depends on the deployment (declared queues, registered job types and their
 * payload schemas) is checked by lib/enqueue.ts.
 */
import * as z from 'zod';

/*
 * Limits, and SQS's for comparison.
 *
 *                         this queue                                SQS
 *   payload per message   1 MiB (1,048,576 bytes) of UTF-8 JSON     256 KiB by default, up to 1 MiB
 *                         text, as the caller sends it              (MaximumMessageSize)
 *   messages per request  500, in one Data API call, stored whole   10 per SendMessageBatch, each
 *                         or not at all                             entry may fail on its own
 *   request body          3 MiB (3,145,728 bytes)                   the batch's total = the message limit
 *   delay                 0 s to 365 days (delaySeconds, or an      0 to 15 min (DelaySeconds)
 *                         ISO 8601 availableAt)
 *   deduplication         per queue, as long as the message is      5 min window (FIFO queues only)
 *                         kept (retention), also across races; or
 *                         debounced / throttled over 1 s to 1 day
 *
 * Why these numbers: messages live in Aurora MySQL and every read goes through the RDS Data API,
 * which documents a limit of 64 KB per result row and 1 MiB per response, and refuses a request
 * over 4 MiB. A payload that fits its row (54 KiB as MySQL hands a JSON column back: re-serialized
 * with a space after every `,` and `:`, up to about twice a compact document's length) stays in it;
 * a larger one, up to SQS's 1 MiB, is kept in slices of 48 KiB of its text (queue_payload_parts)
 * and read back slice by slice, so no row and no response passes the documented limits. A whole
 * batch is one ExecuteStatement request, whose JSON encoding escapes every quote and backslash of
 * the batch again, so the body is capped at 3 MiB and a batch whose encoded request would still
 * pass the 4 MiB limit is refused with 413 as well.
 */
export const ENQUEUE_LIMITS = {
  /** A payload's JSON text as the caller sends it. */
  maxPayloadBytes: 1_048_576,
  /**
   * Larger than this as stored (MySQL's re-serialized JSON), a payload goes to slices. 54 KiB keeps
   * the widest row the product reads under 60,000 bytes with every field at its maximum, a margin
   * below the Data API's 64 KB. That row is a dead-letter listing's: payload 55,296 + last error
   * 2,000 (LAST_ERROR_MAX_BYTES) + dedup key 1,020 (255 characters of 4 bytes) + group key 512
   * (128 of 4) + type 128 + queue 64 + id 36 + status 9 + 4 timestamps of 23 + 7 numbers of 8
   * = 59,213 (test/rowSize.test.ts). At 60 KiB it was 65,357.
   */
  maxInlinePayloadBytes: 55_296,
  /** One slice of a large payload's JSON text: a row well under the documented 64 KB. */
  payloadPartBytes: 48 * 1_024,
  maxBodyBytes: 3_145_728,
  /** The Data API's request limit, less room for the request's other fields. */
  maxRequestBytes: 4 * 1_048_576 - 16_384,
  maxBatchSize: 500,
  maxDelaySeconds: 365 * 24 * 3_600,
  minPriority: -100,
  maxPriority: 100,
  minMaxAttempts: 1,
  maxMaxAttempts: 100,
  maxDedupKeyChars: 255,
  maxGroupKeyChars: 128,
  /** A debounce or throttle window: up to a day. */
  maxDedupSeconds: 86_400,
  /** Arrays/objects nested in a payload. MariaDB (the local stand-in) refuses 32; MySQL refuses 101. */
  maxPayloadDepth: 31,
} as const;

const L = ENQUEUE_LIMITS;

/** Queue names as stored (queue_messages.queue is VARCHAR(64) ascii). */
export const queueName = z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 . _ : -');

/** A lone UTF-16 surrogate has no UTF-8 encoding; MySQL would refuse (or mangle) it. */
export const LONE_SURROGATE = /\p{Surrogate}/u;

/** A key stored in a VARCHAR(maxChars) column and compared as MySQL compares them: dedup and group keys. */
function keyText(maxChars: number) {
  return (
    z
      .string()
      .refine((key) => key.length > 0, { message: 'must not be empty', params: { rule: 'too_small' } })
      // Counted in characters (code points), as MySQL counts VARCHAR(n), not in UTF-16 units.
      .refine((key) => [...key].length <= maxChars, { message: `must be at most ${maxChars} characters`, params: { rule: 'too_big' } })
      .refine((key) => !LONE_SURROGATE.test(key), { message: 'must be valid Unicode (no lone surrogates)', params: { rule: 'unicode' } })
      // MySQL compares VARCHAR keys ignoring trailing spaces, so "a" and "a " would collide.
      .refine((key) => !key.endsWith(' '), { message: 'must not end with a space', params: { rule: 'trailing_space' } })
  );
}

export const dedupKey = keyText(L.maxDedupKeyChars);

/** A FIFO group's key: the same text rules as a dedupKey, shorter (it is indexed with the queue). */
export const groupKey = keyText(L.maxGroupKeyChars);

export const DEDUP_MODES = ['debounce', 'throttle'] as const;

/** How a repeat of a stored dedupKey is answered, when not as a plain duplicate. */
export const dedupRule = z
  .strictObject({
    mode: z
      .enum(DEDUP_MODES)
      .describe(
        'debounce: a waiting message with this dedupKey takes this payload (and priority, maxAttempts) and comes due `seconds` from now, the last one wins; ' +
          'a keyed message no longer waiting leaves a new message, due `seconds` from now. ' +
          'throttle: later messages with the key are duplicates for `seconds` after the first was enqueued; after that the key makes a new message',
      ),
    seconds: z
      .number()
      .int(`must be a whole number of seconds from 1 to ${L.maxDedupSeconds} (1 day)`)
      .min(1, `must be from 1 to ${L.maxDedupSeconds} seconds (1 day)`)
      .max(L.maxDedupSeconds, `must be from 1 to ${L.maxDedupSeconds} seconds (1 day)`)
      .describe('the debounce delay, or the throttle window, in seconds'),
  })
  .describe('with a dedupKey: debounce or throttle repeats of the key instead of answering them as duplicates for as long as the message is kept');
export type DedupRule = z.output<typeof dedupRule>;

/** A whole number from `min` to `max`, every refusal saying so. */
export const intInRange = (min: number, max: number) => {
  const rule = `must be an integer from ${min} to ${max}`;
  return z.number().int(rule).min(min, rule).max(max, rule);
};

/** intInRange as text (a query string's or a path's). */
export const intFromText = (min: number, max: number) =>
  z.string().regex(/^\d+$/, `must be an integer from ${min} to ${max}`).transform(Number).pipe(intInRange(min, max));

/** One message as a caller sends it. `payload` is checked against its type's schema by lib/enqueue. */
export const enqueueMessage = z
  .strictObject({
    type: z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -'),
    payload: z.unknown().optional(),
    delaySeconds: z
      .number()
      .int(`must be a whole number of seconds from 0 to ${L.maxDelaySeconds} (365 days)`)
      .min(0, `must be from 0 to ${L.maxDelaySeconds} seconds (365 days)`)
      .max(L.maxDelaySeconds, `must be from 0 to ${L.maxDelaySeconds} seconds (365 days)`)
      .optional(),
    availableAt: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date-time with a time zone, e.g. 2026-05-01T12:00:00Z' }).optional(),
    priority: intInRange(L.minPriority, L.maxPriority).optional(),
    maxAttempts: intInRange(L.minMaxAttempts, L.maxMaxAttempts).optional(),
    dedupKey: dedupKey.optional(),
    dedup: dedupRule.optional(),
    /** FIFO queues only, and required there: messages of one group run one at a time, in enqueue order. */
    groupKey: groupKey
      .optional()
      .describe(
        'Required by FIFO queues (the messages of one group run one at a time, in enqueue order) and by queues with groups (per-group concurrency, rate and fairness); refused by other queues',
      ),
  })
  .superRefine((message, context) => {
    if (message.payload === undefined) {
      context.addIssue({ code: 'custom', path: ['payload'], message: 'is required', params: { rule: 'required' } });
    }
    if (message.delaySeconds !== undefined && message.availableAt !== undefined) {
      context.addIssue({ code: 'custom', path: ['availableAt'], message: 'give delaySeconds or availableAt, not both', params: { rule: 'exclusive' } });
    }
    if (message.dedup !== undefined && message.dedupKey === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['dedupKey'],
        message: `is required with dedup (${message.dedup.mode} needs a key)`,
        params: { rule: 'required' },
      });
    }
    // A debounced message is due `seconds` after its last enqueue; another delay would contradict it.
    if (message.dedup?.mode === 'debounce' && (message.delaySeconds !== undefined || message.availableAt !== undefined)) {
      const field = message.delaySeconds !== undefined ? 'delaySeconds' : 'availableAt';
      context.addIssue({
        code: 'custom',
        path: [field],
        message: `cannot be given with dedup mode debounce, which sets the due time to dedup.seconds after the last enqueue`,
        params: { rule: 'exclusive' },
      });
    }
  });

export type EnqueueMessage = z.input<typeof enqueueMessage>;

export const enqueueBatch = z.strictObject({
  messages: z.array(z.unknown()).min(1, 'must hold at least one message').max(L.maxBatchSize, `must hold at most ${L.maxBatchSize} messages per request`),
});

/** The answer for one enqueued message, in the order given. */
export const enqueuedMessage = z.object({
  id: z.uuid(),
  /** True when the dedupKey already named a stored message (a waiting one a debounce updated, too): `id` is that message's. */
  duplicate: z.boolean(),
});
export type EnqueuedMessage = z.infer<typeof enqueuedMessage>;

/*
 * What a handler hands back (queue_message_outputs, migration 011). A result is the JSON text of
 * what `handle` returned, at most 48 KiB: the issue asked for 64 KB, but the Data API documents
 * 64 KB per returned row, so a result read alone in its row must stay under it with room to spare
 * (a payload slice is 48 KiB for the same reason). Progress is small by design: 512 bytes keeps
 * the widest message read (test/rowSize.test.ts) under 60,000 bytes with it.
 */
export const OUTPUT_LIMITS = {
  /** UTF-8 bytes of a result's JSON text; a larger result is dropped with a warning (the message is still done). */
  maxResultBytes: 48 * 1_024,
  /** UTF-8 bytes of a progress value's JSON text; `context.progress` throws a TypeError past it. */
  maxProgressBytes: 512,
  /** A message's progress is written at most once per this many ms (the latest value wins). */
  progressIntervalMs: 1_000,
} as const;

export const MESSAGE_STATUSES = ['waiting', 'running', 'retrying', 'done', 'dead', 'cancelled'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export const messageStatus = z.enum(MESSAGE_STATUSES);

/** GET /messages/{id}. Dates are ISO 8601 UTC. */
export const messageView = z.object({
  id: z.string(),
  queue: z.string(),
  type: z.string(),
  status: messageStatus,
  priority: z.number().int(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  availableAt: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  finishedAt: z.string().optional(),
  lastError: z.string().optional(),
  dedupKey: z.string().optional(),
  groupKey: z.string().optional(),
  traceId: z
    .string()
    .optional()
    .describe('The trace the message was enqueued in (a W3C trace id: 32 hex digits), when its producer sent one (traceparent or X-Amzn-Trace-Id)'),
  result: z
    .unknown()
    .optional()
    .describe(
      'What the handler returned (JSON, at most 48 KiB as JSON text), once the message is done; absent when it returned nothing, or something that is not JSON or too large (the drain logs a warning)',
    ),
  progress: z
    .unknown()
    .optional()
    .describe('The latest value the handler reported with context.progress (a number or a JSON object of at most 512 bytes), written at most once a second'),
  progressAt: z.string().optional().describe('When that progress was written (ISO 8601 UTC)'),
  cancelRequested: z
    .boolean()
    .optional()
    .describe(
      'True while the message runs with its cancel requested (DELETE /messages/{id}): the drain running it aborts its handler within about a second and ' +
        'settles it `cancelled`, unless the handler finishes first (its own outcome then stands). Absent otherwise',
    ),
});
export type MessageView = z.infer<typeof messageView>;

/** DELETE /messages/{id}: the message as the cancel left it (`cancelRequested` when it was running). */
export const cancelView = messageView;
export type CancelView = MessageView;

export const messageIdParams = z.object({
  id: z
    .string()
    .transform((id) => id.toLowerCase())
    .pipe(z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a message id (a UUID)')),
});

export const queueParams = z.object({ queue: z.string() });

export const DEAD_LETTER_LIMITS = {
  /** Messages per page of GET /queues/{queue}/dead; pages are also cut by bytes (see lib/sql). */
  defaultPage: 50,
  maxPage: 500,
  /** Dead letters redriven or purged by one call, so one statement never holds locks for long. */
  defaultBulk: 1_000,
  maxBulk: 1_000,
} as const;

const messageId = z
  .string()
  .transform((id) => id.toLowerCase())
  .pipe(z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'must be a message id (a UUID)'));

/** GET /queues/{queue}/dead. Query strings reach these schemas as `{}` when there is none. */
export const deadLetterPageQuery = z.strictObject({
  limit: intFromText(1, DEAD_LETTER_LIMITS.maxPage).optional(),
  after: messageId.optional(),
});

const ids = z
  .array(messageId)
  .min(1, 'must name at least one id (omit it to mean all)')
  .max(DEAD_LETTER_LIMITS.maxBulk, `must name at most ${DEAD_LETTER_LIMITS.maxBulk} ids per call`);

const bulkLimit = intInRange(1, DEAD_LETTER_LIMITS.maxBulk);

/** POST /queues/{queue}/redrive: these dead letters, or all of the queue's (at most `limit` per call). */
export const redriveBody = z
  .strictObject({ ids: ids.optional(), limit: bulkLimit.optional() })
  .optional()
  .transform((body) => body ?? {});

/**
 * DELETE /queues/{queue}/dead: purging is for good, so "all" must be said (`all: true`); omitting
 * `ids` does not mean all here. The selection may come as a JSON body or as a query string
 * (`?ids=a,b` or `?all=true`, with `&limit=`), since some clients cannot send a DELETE body.
 */
export const purgeSelection = z
  .strictObject({ ids: ids.optional(), all: z.literal(true, 'must be true (to purge every dead letter)').optional(), limit: bulkLimit.optional() })
  .superRefine((selection, context) => {
    if (selection.ids === undefined && selection.all === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['ids'],
        message: 'give ids, or all: true to purge every dead letter of the queue',
        params: { rule: 'required' },
      });
    }
    if (selection.ids !== undefined && selection.all !== undefined) {
      context.addIssue({ code: 'custom', path: ['all'], message: 'give ids or all, not both', params: { rule: 'exclusive' } });
    }
  });

export const purgeQuery = z.strictObject({
  ids: z
    .string()
    .transform((text) => text.split(',').filter((id) => id !== ''))
    .optional(),
  all: z
    .enum(['true'], 'must be true (to purge every dead letter)')
    .transform(() => true as const)
    .optional(),
  limit: intFromText(1, DEAD_LETTER_LIMITS.maxBulk).optional(),
});
