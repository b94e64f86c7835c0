/**
 * The dashboard page's own JSON endpoints. Each one is thin, as the Lambda handlers are: parse
 * with the API's zod schemas (schema/messages.ts, schema/groups.ts), call the same operations
 * (lib/operations.ts, lib/messages.ts, lib/groups.ts), shape the answer. Refusals are thrown and answered by the server through
 * lib/http's responseForError, so they read as the HTTP API's do and never carry SQL or a stack.
 *
 *   GET    /api/overview                         every queue: depth, oldest due, paused, limits (queue-wide, per
 *                                                 run and per group), a FIFO queue's groups, permits in use, last hour;
 *                                                 the config's recurring entries with their last and next slot
 *   GET    /api/queues/{queue}/dead?limit&after  a page of dead letters (as GET /queues/{queue}/dead)
 *   POST   /api/queues/{queue}/redrive           { ids?, limit? } → { redriven, more }
 *   DELETE /api/queues/{queue}/dead              { ids } or { all: true }, limit? → { purged, more }
 *   POST   /api/queues/{queue}/pause, /resume
 *   GET    /api/queues/{queue}/groups?limit      a queue with per-group limits: its groups (as GET /queues/{queue}/groups)
 *   PUT    /api/queues/{queue}/groups/{groupKey}/limits   { concurrency?, ratePerSecond? }: a number, or null for the queue's
 *   POST   /api/queues/{queue}/groups/{groupKey}/pause, /resume
 *   GET    /api/messages/{id}                    a message with its payload
 *   DELETE /api/messages/{id}                    cancels it (as DELETE /messages/{id}: a running one is asked to stop)
 *   GET    /api/queues/{queue}/messages?dedupKey=k   the message its dedup key names
 */
import * as z from 'zod';
import type { App } from '../../lib/app.js';
import { ValidationError, type FieldIssue } from '../../lib/errors.js';
import { declaredGroupLimits, listGroups, pauseGroup, resumeGroup, setGroupLimits } from '../../lib/groups.js';
import { findRoute, HttpError, ok, type HttpResponse } from '../../lib/http/index.js';
import { cancelMessage, findMessageByDedupKey, getMessageDetail } from '../../lib/messages.js';
import { listDeadLetters, listQueueStats, pauseQueue, purgeDeadLetters, redrive, resumeQueue } from '../../lib/operations.js';
import { slotKey, type RecurringPlan } from '../../lib/recurring.js';
import { slotsAtOrBefore } from '../../lib/schedule.js';
import { issuesFromZod } from '../../lib/validation.js';
import { groupLimitsBody, groupListQuery, groupParams } from '../../schema/groups.js';
import { dedupKey, deadLetterPageQuery, messageIdParams, purgeSelection, queueParams, redriveBody } from '../../schema/messages.js';
import { recurringViews, type RecurringView } from '../commands/recurring.js';
import { ThroughputHistory } from './throughput.js';

export interface ApiRequest {
  method: string;
  /** The URL's path, still percent-encoded. */
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body; undefined when none was sent. */
  body: unknown;
}

export interface ApiOptions {
  app: App;
  /** Where the dashboard points, for the page's header. */
  target: string;
  refreshSeconds: number;
}

const dedupKeyQuery = z.strictObject({ dedupKey });
/** Pause and resume take no input; an empty object (or no body) is all they accept. */
const emptyBody = z.strictObject({}).optional();

type Route = (params: Record<string, string>, request: ApiRequest) => Promise<HttpResponse>;

export function createApi(options: ApiOptions): (request: ApiRequest) => Promise<HttpResponse> {
  const { app } = options;
  const throughput = new ThroughputHistory(app);

  /** A call with no body that acts on what its path names (a queue, a group, a message). */
  const control =
    <S extends z.ZodType>(path: S, act: (params: z.output<S>) => Promise<unknown>): Route =>
    async (params, request) => {
      const named = parse(path, params, 'path');
      parse(emptyBody, request.body, 'body');
      return ok(await act(named));
    };
  const routes: Record<string, Route> = {
    'GET /api/overview': async () => ok(await overview(app, options, throughput)),
    'GET /api/queues/{queue}/dead': async (params, request) => {
      const { queue } = parse(queueParams, params, 'path');
      return ok(await listDeadLetters(app, queue, parse(deadLetterPageQuery, queryObject(request), 'query')));
    },
    'POST /api/queues/{queue}/redrive': async (params, request) => {
      const { queue } = parse(queueParams, params, 'path');
      const result = await redrive(app, queue, parse(redriveBody, request.body, 'body'));
      return ok({ redriven: result.count, more: result.more, notCarried: result.notCarried });
    },
    'DELETE /api/queues/{queue}/dead': async (params, request) => {
      const { queue } = parse(queueParams, params, 'path');
      const { limit, ...selection } = parse(purgeSelection, request.body ?? {}, 'body');
      const result = await purgeDeadLetters(app, queue, selection.all ? { all: true } : { ids: selection.ids! }, { limit });
      return ok({ purged: result.count, more: result.more });
    },
    'POST /api/queues/{queue}/pause': control(queueParams, ({ queue }) => pauseQueue(app, queue)),
    'POST /api/queues/{queue}/resume': control(queueParams, ({ queue }) => resumeQueue(app, queue)),
    'GET /api/queues/{queue}/groups': async (params, request) => {
      const { queue } = parse(queueParams, params, 'path');
      return ok(await listGroups(app, queue, parse(groupListQuery, queryObject(request), 'query')));
    },
    'PUT /api/queues/{queue}/groups/{groupKey}/limits': async (params, request) => {
      const { queue, groupKey } = parse(groupParams, params, 'path');
      // No body is a change of nothing: refused as the API refuses {}.
      return ok(await setGroupLimits(app, queue, groupKey, parse(groupLimitsBody, request.body ?? {}, 'body')));
    },
    'POST /api/queues/{queue}/groups/{groupKey}/pause': control(groupParams, ({ queue, groupKey }) => pauseGroup(app, queue, groupKey)),
    'POST /api/queues/{queue}/groups/{groupKey}/resume': control(groupParams, ({ queue, groupKey }) => resumeGroup(app, queue, groupKey)),
    'GET /api/messages/{id}': async (params) => ok(await getMessageDetail(app, parse(messageIdParams, params, 'path').id)),
    'DELETE /api/messages/{id}': control(messageIdParams, ({ id }) => cancelMessage(app, id)),
    'GET /api/queues/{queue}/messages': async (params, request) => {
      const { queue } = parse(queueParams, params, 'path');
      return ok(await findMessageByDedupKey(app, queue, parse(dedupKeyQuery, queryObject(request), 'query').dedupKey));
    },
  };
  const routeKeys = Object.keys(routes);

  return async (request) => {
    const { route, methods } = findRoute(routeKeys, request.method, request.path);
    if (route !== undefined) return routes[route.key]!(decodeParams(route.params), request);
    if (methods.length > 0) throw new HttpError(405, { code: 'method_not_allowed', message: `${request.method} is not allowed on ${request.path}` });
    throw new HttpError(404, { code: 'unknown_route', message: `no route for ${request.method} ${request.path}` });
  };
}

async function overview(app: App, options: ApiOptions, throughput: ThroughputHistory) {
  // The groups come through /api/queues/{queue}/groups, with their limits and state: not twice.
  const [stats, lastHour] = await Promise.all([listQueueStats(app, { topGroups: false }), throughput.read()]);
  const series = new Map(lastHour.queues.map((q) => [q.queue, q]));
  return {
    target: options.target,
    refreshSeconds: options.refreshSeconds,
    at: app.clock.now().toISOString(),
    throughputSince: lastHour.since.toISOString(),
    queues: stats.map((s) => {
      const limits = app.queues.get(s.queue)!;
      const { done, retried, dead } = series.get(s.queue)!;
      return {
        ...s,
        limits: {
          batchSize: limits.batchSize,
          // Queue-wide: across every drain run together (null: none).
          concurrency: limits.concurrency ?? null,
          ratePerSecond: limits.ratePerSecond ?? null,
          // Per drain run: one run's own fan-out and pace.
          drainConcurrency: limits.drainConcurrency,
          drainRatePerSecond: limits.drainRatePerSecond ?? null,
          fifo: limits.fifo,
          // The job types the queue carries (null: any registered type).
          types: limits.types ?? null,
          // Per group of a queue with `groups` (null: none): what a group's own limits replace.
          groups: declaredGroupLimits(limits),
          leaseSeconds: limits.leaseSeconds,
          maxAttempts: limits.maxAttempts,
          retentionSeconds: limits.retentionSeconds,
          deadRetentionSeconds: limits.deadRetentionSeconds ?? null,
        },
        throughput: { done, retried, dead },
      };
    }),
    recurring: recurringOverview(app.recurring.plans, app.clock.now()),
  };
}

export interface RecurringOverview extends RecurringView {
  /** ISO 8601 UTC: the entry's latest slot at or before now; null when it has had none yet. */
  lastSlot: string | null;
  /** The dedup key that slot's message carries (`recurring:<name>:<slot>`), to look it up by. */
  lastSlotDedupKey: string | null;
}

/**
 * The config's recurring entries as `aurora-queue recurring --json` gives them (same next slot),
 * with the latest slot: read from the config alone, no database call.
 */
function recurringOverview(plans: readonly RecurringPlan[], now: Date): RecurringOverview[] {
  return recurringViews(plans, now).map((view, i) => {
    const plan = plans[i]!;
    const [last] = slotsAtOrBefore(plan.parsed, now, { count: 1, timeZone: plan.timezone });
    return { ...view, lastSlot: last?.toISOString() ?? null, lastSlotDedupKey: last === undefined ? null : slotKey(plan.name, last) };
  });
}

/** A part of the request through its schema; issues name the part when the schema names no field. */
function parse<S extends z.ZodType>(schema: S, value: unknown, part: 'path' | 'query' | 'body'): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues: FieldIssue[] = issuesFromZod(result.error).map((issue) => (issue.field === '' ? { ...issue, field: part } : issue));
  throw new ValidationError(issues);
}

/** A query string as the API's schemas read it: one value per name (the last one given). */
function queryObject(request: ApiRequest): Record<string, string> {
  return Object.fromEntries(request.query);
}

function decodeParams(groups: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(groups).map(([name, value]) => {
      try {
        return [name, decodeURIComponent(value)];
      } catch {
        throw new ValidationError([{ field: name, rule: 'percent_encoding', message: 'is not valid percent-encoded UTF-8' }]);
      }
    }),
  );
}
