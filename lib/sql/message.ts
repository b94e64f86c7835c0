import { MESSAGE_STATUSES, type MessageStatus } from '../../schema/messages.js';
import type { Row } from '../db/types.js';

export { MESSAGE_STATUSES, type MessageStatus };

/** A stored message as the rest of the product sees it. */
export interface Message {
  id: string;
  queue: string;
  type: string;
  payload: unknown;
  /** Slices of a payload too large for the row (`payload` is then null; see readPayloadText); 0 otherwise. */
  payloadParts: number;
  status: MessageStatus;
  priority: number;
  attempts: number;
  maxAttempts: number;
  /** When it may next be claimed; while running, the lease deadline. */
  availableAt: Date;
  dedupKey: string | null;
  groupKey: string | null;
  /** The producer's trace context as stored (lib/tracing.ts), or null. */
  traceContext: string | null;
  lastError: string | null;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
}

/**
 * The columns every message read selects, in the shape `toMessage` expects. One such row is under
 * 60,000 bytes as stored and under 200 KB at its worst in a response (lib/sql/responseBytes.ts),
 * so a read of one message needs no paging; reads of many are cut into pages.
 */
export const MESSAGE_COLUMNS = `id, queue, type, payload, payload_parts, status, priority, attempts, max_attempts, available_at,
  dedup_key, group_key, trace_context, last_error, created_at, updated_at, finished_at`;

export function toMessage(row: Row): Message {
  return {
    id: row.id as string,
    queue: row.queue as string,
    type: row.type as string,
    payload: row.payload,
    payloadParts: Number(row.payload_parts ?? 0),
    status: row.status as MessageStatus,
    priority: Number(row.priority),
    attempts: Number(row.attempts),
    maxAttempts: Number(row.max_attempts),
    availableAt: row.available_at as Date,
    dedupKey: (row.dedup_key as string | null) ?? null,
    groupKey: (row.group_key as string | null) ?? null,
    traceContext: (row.trace_context as string | null) ?? null,
    lastError: (row.last_error as string | null) ?? null,
    createdAt: row.created_at as Date,
    updatedAt: row.updated_at as Date,
    finishedAt: (row.finished_at as Date | null) ?? null,
  };
}

/**
 * How much of a handler's error text is kept, in UTF-8 bytes: the row must stay under 60,000 bytes
 * with a full inline payload and every other field at its maximum (the arithmetic is at
 * ENQUEUE_LIMITS.maxInlinePayloadBytes), and 2,000 characters of 4-byte text would take 8,000.
 */
export const LAST_ERROR_MAX_BYTES = 2_000;

/** MySQL DATETIME(3) text in UTC, for values travelling inside a JSON parameter. */
export function sqlTimestamp(date: Date): string {
  return date.toISOString().slice(0, 23).replace('T', ' ');
}
