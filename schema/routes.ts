/**
 * The HTTP API's routes with the zod schemas that validate them: the one source of the OpenAPI
 * document (schema/openapi.ts), which a test checks against serverless.yml and the handlers.
 */
import * as z from 'zod';
import { groupLimitsBody, groupList, groupListQuery, groupParams, groupView, topGroup } from './groups.js';
import {
  deadLetterPageQuery,
  enqueueBatch,
  enqueuedMessage,
  enqueueMessage,
  MESSAGE_STATUSES,
  messageIdParams,
  cancelView,
  messageView,
  purgeQuery,
  purgeSelection,
  queueParams,
  redriveBody,
} from './messages.js';

/** The body every refusal carries. */
export const errorResponseBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    field: z.string().optional(),
    rule: z.string().optional(),
    issues: z.array(z.object({ field: z.string(), rule: z.string(), message: z.string() })).optional(),
    status: z.string().optional(),
  }),
});

const queueStatsView = z.object({
  queue: z.string(),
  counts: z.record(z.enum(MESSAGE_STATUSES), z.number().int()),
  oldestDueAgeSeconds: z.number(),
  delayed: z.number().int(),
  paused: z.boolean(),
  groups: z
    .object({
      live: z.number().int().describe('groups with an unfinished message'),
      inFlight: z.number().int().describe('groups whose head is running (at most one message per group runs)'),
      blocked: z.number().int().describe('groups whose head is retrying: held back by a failed attempt until its next try'),
    })
    .optional()
    .describe('FIFO queues only'),
  permitsInUse: z
    .object({
      run: z.number().int().optional().describe('handlers running across every drain run (at most concurrency)'),
      rate: z.number().int().optional().describe('messages started within the current rate window (at most ratePerSecond, rounded up)'),
    })
    .optional()
    .describe('queues with queue-wide limits only, per limited kind'),
  topGroups: z
    .array(topGroup)
    .optional()
    .describe('queues with per-group limits only: the groups with the most unfinished messages, most first (GET /queues/{queue}/groups lists more)'),
});

const deadLetterList = z.object({
  messages: z.array(messageView.extend({ payload: z.unknown() })),
  next: z.string().optional(),
});

const queueState = z.object({ queue: z.string(), paused: z.boolean() });

/**
 * The trace context an enqueue stores with its messages (lib/tracing.ts). The W3C Trace Context
 * specification has a receiver ignore a malformed traceparent, so one is not refused: the messages
 * are stored untraced.
 */
const traceHeaders = z.object({
  traceparent: z
    .string()
    .optional()
    .describe("W3C Trace Context: the producer's span (00-<trace id>-<span id>-<flags>); the drain runs the message in a span of this trace"),
  tracestate: z.string().optional().describe('W3C Trace Context: vendor state carried with traceparent (up to 512 characters are kept)'),
  'X-Amzn-Trace-Id': z.string().optional().describe('X-Ray trace header (Root=1-…;Parent=…;Sampled=…), used when there is no valid traceparent'),
});

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** The serverless.yml function that serves it. */
  function: string;
  summary: string;
  params?: z.ZodType;
  query?: z.ZodType;
  /** Request headers the route reads (documented; a bad value is ignored, not refused). */
  headers?: z.ZodType;
  body?: z.ZodType;
  /** The body must be sent (otherwise it may be left out). */
  bodyRequired?: true;
  /** Status → answer; every route may also answer the refusals in errorResponseBody. */
  responses: Record<number, z.ZodType>;
}

export const ROUTES: readonly Route[] = [
  {
    method: 'POST',
    path: '/queues/{queue}/messages',
    function: 'enqueue',
    summary: 'Enqueue one message, or { messages: [...] } with up to 500, stored whole or not at all',
    params: queueParams,
    headers: traceHeaders,
    bodyRequired: true,
    body: z.union([enqueueMessage, enqueueBatch.extend({ messages: z.array(enqueueMessage).min(1).max(500) })]),
    responses: { 202: z.union([enqueuedMessage, z.object({ messages: z.array(enqueuedMessage) })]) },
  },
  { method: 'GET', path: '/messages/{id}', function: 'getMessage', summary: "A message's status", params: messageIdParams, responses: { 200: messageView } },
  {
    method: 'DELETE',
    path: '/messages/{id}',
    function: 'cancelMessage',
    summary:
      'Cancel a message: at once if it waits or retries; a running one is asked to stop (cancelRequested) and ends cancelled unless its handler finishes first',
    params: messageIdParams,
    responses: { 200: cancelView },
  },
  {
    method: 'GET',
    path: '/queues/{queue}/stats',
    function: 'stats',
    summary: "A queue's depth by status and oldest due age; a FIFO queue's groups; queue-wide permits in use; a grouped queue's top groups",
    params: queueParams,
    responses: { 200: queueStatsView },
  },
  {
    method: 'GET',
    path: '/queues/{queue}/dead',
    function: 'deadLetters',
    summary: 'A page of dead letters',
    params: queueParams,
    query: deadLetterPageQuery,
    responses: { 200: deadLetterList },
  },
  {
    method: 'POST',
    path: '/queues/{queue}/redrive',
    function: 'deadLetters',
    summary: 'Redrive dead letters (some ids, or all up to limit) of the types the queue carries',
    params: queueParams,
    body: redriveBody,
    responses: {
      200: z.object({
        redriven: z.number().int(),
        more: z.boolean(),
        notCarried: z
          .number()
          .int()
          .describe(
            'dead letters left dead: their type is not one the queue carries, or has no handler (among the ids; without ids, counted once more is false)',
          ),
      }),
    },
  },
  {
    method: 'DELETE',
    path: '/queues/{queue}/dead',
    function: 'deadLetters',
    summary: 'Purge dead letters: { ids } or { all: true }, as a body or a query string',
    params: queueParams,
    query: purgeQuery,
    body: purgeSelection,
    responses: { 200: z.object({ purged: z.number().int(), more: z.boolean() }) },
  },
  {
    method: 'POST',
    path: '/queues/{queue}/pause',
    function: 'queueControl',
    summary: 'Pause a queue (enqueues are still accepted)',
    params: queueParams,
    responses: { 200: queueState },
  },
  {
    method: 'POST',
    path: '/queues/{queue}/resume',
    function: 'queueControl',
    summary: 'Resume a paused queue',
    params: queueParams,
    responses: { 200: queueState },
  },
  {
    method: 'GET',
    path: '/queues/{queue}/groups',
    function: 'groups',
    summary: 'A queue with per-group limits: its groups with the most backlog, and those paused or with limits of their own',
    params: queueParams,
    query: groupListQuery,
    responses: { 200: groupList },
  },
  {
    method: 'PUT',
    path: '/queues/{queue}/groups/{groupKey}/limits',
    function: 'groups',
    summary: "Set a group's own concurrency or rate (null: back to the queue's); every drain's next claim holds to it",
    params: groupParams,
    bodyRequired: true,
    body: groupLimitsBody,
    responses: { 200: groupView },
  },
  {
    method: 'POST',
    path: '/queues/{queue}/groups/{groupKey}/pause',
    function: 'groups',
    summary: 'Pause a group: drains start none of its messages (running ones finish, enqueues are still accepted)',
    params: groupParams,
    responses: { 200: groupView },
  },
  {
    method: 'POST',
    path: '/queues/{queue}/groups/{groupKey}/resume',
    function: 'groups',
    summary: 'Resume a paused group',
    params: groupParams,
    responses: { 200: groupView },
  },
  { method: 'GET', path: '/openapi.json', function: 'openapi', summary: 'This document', responses: { 200: z.object({ openapi: z.string() }).loose() } },
];
