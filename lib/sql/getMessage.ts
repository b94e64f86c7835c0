import type { Db, Row } from '../db/types.js';
import { ENQUEUE_LIMITS } from '../../schema/messages.js';
import { MESSAGE_COLUMNS, toMessage, type Message } from './message.js';

/** What a message's handler handed back (queue_message_outputs), as stored. */
export interface MessageOutputs {
  /**
   * The result's JSON text when it came with the message's row; undefined when there is none, or
   * when it did not fit beside the payload (`resultBytes` then says there is one to read apart).
   */
  result: string | undefined;
  /** Bytes of the result shown for this message; null when it has none. */
  resultBytes: number | null;
  /** The latest progress's JSON text, or null. */
  progress: string | null;
  progressAt: Date | null;
}

/** A running message whose cancel is requested (queue_cancel_requests) for its current attempt. */
export type MessageWithOutputs = Message & { outputs: MessageOutputs; cancelRequested: boolean };

/**
 * A result belongs to the message only when the run that finished it wrote it: its lease token is
 * the message's (a finished row keeps its last claim's token; see storeHeldResults).
 */
const RESULT_SHOWN = `m.status = 'done' AND o.lease_token = m.lease_token`;

/*
 * The message and its outputs in one call. The result comes in the same row only when it fits
 * beside the payload: the row then stays within the budget of the widest message row
 * (ENQUEUE_LIMITS.maxInlinePayloadBytes, test/rowSize.test.ts); otherwise readMessageResult
 * fetches it in a second call, alone in its row. Progress is small enough (512 bytes) to come
 * always.
 */
const GET_MESSAGE = `
SELECT ${MESSAGE_COLUMNS.split(',')
  .map((column) => `m.${column.trim()}`)
  .join(', ')},
  o.progress, o.progress_at,
  CASE WHEN ${RESULT_SHOWN} THEN o.result_bytes END AS result_bytes,
  CASE WHEN ${RESULT_SHOWN} AND m.payload_bytes + o.result_bytes <= :inlineResultBytes THEN o.result END AS result,
  m.status = 'running' AND EXISTS (
    SELECT 1 FROM queue_cancel_requests AS c WHERE c.message_id = m.id AND c.lease_token = m.lease_token
  ) AS cancel_requested
FROM queue_messages AS m
LEFT JOIN queue_message_outputs AS o ON o.message_id = m.id
WHERE m.id = :id`;

const READ_MESSAGE_RESULT = `
SELECT o.result
FROM queue_messages AS m
JOIN queue_message_outputs AS o ON o.message_id = m.id
WHERE m.id = :id AND ${RESULT_SHOWN}`;

/** A message and its outputs; the result's text is read in a second call only when it did not fit the first. */
export async function getMessage(db: Db, id: string): Promise<MessageWithOutputs | undefined> {
  const [row] = await db.query(GET_MESSAGE, { id, inlineResultBytes: ENQUEUE_LIMITS.maxInlinePayloadBytes }, { idempotent: true });
  if (row === undefined) return undefined;
  const outputs = toOutputs(row);
  if (outputs.resultBytes !== null && outputs.result === undefined) outputs.result = await readMessageResult(db, id);
  return { ...toMessage(row), outputs, cancelRequested: Number(row.cancel_requested) === 1 };
}

/** A done message's result text, alone in its row (at most 48 KiB); undefined when it has none. */
export async function readMessageResult(db: Db, id: string): Promise<string | undefined> {
  const [row] = await db.query(READ_MESSAGE_RESULT, { id }, { idempotent: true });
  return (row?.result as string | null | undefined) ?? undefined;
}

function toOutputs(row: Row): MessageOutputs {
  return {
    result: (row.result as string | null) ?? undefined,
    resultBytes: row.result_bytes === null || row.result_bytes === undefined ? null : Number(row.result_bytes),
    progress: (row.progress as string | null) ?? null,
    progressAt: (row.progress_at as Date | null) ?? null,
  };
}

export { GET_MESSAGE, READ_MESSAGE_RESULT };
