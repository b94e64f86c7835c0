/**
 * A local EventBridge Scheduler API for `npm start`, as dev/data-api is for the Data API: the
 * deployed functions' wake code (lib/wakeScheduler.ts) talks to it through the real SDK client.
 * It serves CreateSchedule, UpdateSchedule, GetSchedule, DeleteSchedule and ListSchedules on the
 * Scheduler's REST-JSON bindings, with its error classes (`x-amzn-ErrorType`, `{"Message"}`).
 *
 * Schedules live in memory, by group and name; any group name is taken as existing (locally
 * there is no stack to create one). Only one-time `at(...)` schedules fire: at their time in
 * their time zone (at once if it has passed; to the second, where AWS fires within the minute;
 * a flexible window fires at its start) the injected `invoke` gets the target's ARN and Input,
 * and ActionAfterCompletion DELETE then removes the schedule. `rate(...)` and `cron(...)`
 * schedules are checked, stored and listed but never fire: the local drain's own schedule is
 * serverless offline's. A failed invoke is logged, not retried (AWS retries per RetryPolicy).
 * Time is a parameter: tests pass a clock and a timer and fire schedules without waiting.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { systemClock, type Clock } from '../../lib/clock.js';
import { closeServer, listenOnLoopback, readBody } from '../loopback.js';
import { isTimeZone, parseExpression, zonedTimeToUtc } from './expressions.js';

/** Calls a schedule's target: what the Scheduler does at the schedule's time. */
export type InvokeTarget = (targetArn: string, input: string | undefined) => Promise<void>;

/** Calls `fire` after `delayMs`; answers a function that cancels it. */
export type SetTimer = (delayMs: number, fire: () => void) => () => void;

export interface LocalSchedulerOptions {
  invoke: InvokeTarget;
  /** 0 (default): any free port on 127.0.0.1. */
  port?: number;
  clock?: Clock;
  setTimer?: SetTimer;
  /**
   * How late after its time a schedule fires. AWS fires within the minute of its time (60 s
   * precision); 0 (the default) fires on the second. `npm start` passes a random delay within the
   * minute, so local runs meet what deployed ones do.
   */
  firingDelayMs?: () => number;
  /** For the schedules' ARNs. */
  region?: string;
  accountId?: string;
  /** A line per fired schedule and per failed invoke. */
  log?: (line: string) => void;
}

export interface LocalScheduler {
  url: string;
  port: number;
  /** Resolves once no schedule is firing (its invoke, and its deletion, done). */
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** The request's members as given, with the defaults AWS applies; GetSchedule answers them back. */
type Definition = Record<string, unknown> & { Target: Record<string, unknown>; State: string; ActionAfterCompletion: string };

interface Schedule {
  group: string;
  name: string;
  definition: Definition;
  clientToken: unknown;
  createdAt: Date;
  modifiedAt: Date;
  /** When an enabled `at(...)` schedule fires; undefined for the others. */
  fireAtMs: number | undefined;
  cancelTimer?: () => void;
}

class SchedulerError extends Error {
  constructor(
    override readonly name: string,
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const validation = (message: string) => new SchedulerError('ValidationException', 400, message);
const notFound = (name: string) => new SchedulerError('ResourceNotFoundException', 404, `Schedule ${name} does not exist.`);
const NAME = /^[0-9a-zA-Z\-_.]{1,64}$/;
/** Node's timers hold at most ~24.8 days; a later schedule re-arms when its timer runs out. */
const MAX_TIMER_MS = 24 * 60 * 60 * 1000;

const realTimer: SetTimer = (delayMs, fire) => {
  const timer = setTimeout(fire, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
};

export async function startLocalScheduler(options: LocalSchedulerOptions): Promise<LocalScheduler> {
  const clock = options.clock ?? systemClock;
  const setTimer = options.setTimer ?? realTimer;
  const log = options.log ?? (() => {});
  const arnPrefix = `arn:aws:scheduler:${options.region ?? 'us-east-1'}:${options.accountId ?? '000000000000'}:schedule`;
  const groups = new Map<string, Map<string, Schedule>>();
  const firing = new Set<Promise<void>>();

  const arnOf = (schedule: Schedule) => `${arnPrefix}/${schedule.group}/${schedule.name}`;
  const inGroup = (group: string) => groups.get(group) ?? groups.set(group, new Map()).get(group)!;

  function find(group: string, name: string): Schedule {
    const schedule = groups.get(group)?.get(name);
    if (schedule === undefined) throw notFound(name);
    return schedule;
  }

  function remove(schedule: Schedule): void {
    schedule.cancelTimer?.();
    groups.get(schedule.group)?.delete(schedule.name);
  }

  function arm(schedule: Schedule): void {
    const { fireAtMs } = schedule;
    if (fireAtMs === undefined) return;
    const delayMs = Math.min(Math.max(0, fireAtMs - clock.now().getTime()), MAX_TIMER_MS);
    schedule.cancelTimer = setTimer(delayMs, () => {
      schedule.cancelTimer = undefined;
      if (clock.now().getTime() < fireAtMs) arm(schedule);
      else fire(schedule);
    });
  }

  function fire(schedule: Schedule): void {
    const { Arn: targetArn, Input: input } = schedule.definition.Target as { Arn: string; Input?: string };
    const run = (async () => {
      try {
        await options.invoke(targetArn, input);
        log(`${schedule.group}/${schedule.name} invoked ${targetArn}${input === undefined ? '' : ` with ${input}`}`);
      } catch (error) {
        log(`${schedule.group}/${schedule.name} could not invoke ${targetArn}: ${error instanceof Error ? error.message : String(error)}`);
      }
      // Unless an update replaced it meanwhile: the newer schedule stands.
      if (schedule.definition.ActionAfterCompletion === 'DELETE' && groups.get(schedule.group)?.get(schedule.name) === schedule) remove(schedule);
    })();
    firing.add(run);
    void run.finally(() => firing.delete(run));
  }

  /** Create or update: the whole definition is replaced, as UpdateSchedule does. */
  function put(name: string, body: Record<string, unknown>, create: boolean): string {
    const { definition, fireAtMs } = validate(name, body);
    const group = typeof body.GroupName === 'string' ? body.GroupName : 'default';
    const existing = groups.get(group)?.get(name);
    const now = clock.now();
    if (create && existing !== undefined) {
      // A retry of the same create (its idempotency token) succeeds again.
      if (body.ClientToken !== undefined && existing.clientToken === body.ClientToken) return arnOf(existing);
      throw new SchedulerError('ConflictException', 409, `Schedule ${name} already exists.`);
    }
    if (!create && existing === undefined) throw notFound(name);
    if (existing !== undefined) remove(existing);
    const firesAtMs = fireAtMs === undefined ? undefined : fireAtMs + (options.firingDelayMs?.() ?? 0);
    const schedule: Schedule = {
      group,
      name,
      definition,
      clientToken: body.ClientToken,
      createdAt: existing?.createdAt ?? now,
      modifiedAt: now,
      fireAtMs: firesAtMs,
    };
    inGroup(group).set(name, schedule);
    arm(schedule);
    return arnOf(schedule);
  }

  function get(schedule: Schedule): Record<string, unknown> {
    return {
      ...schedule.definition,
      Arn: arnOf(schedule),
      GroupName: schedule.group,
      Name: schedule.name,
      CreationDate: schedule.createdAt.getTime() / 1000,
      LastModificationDate: schedule.modifiedAt.getTime() / 1000,
    };
  }

  function list(query: URLSearchParams): Record<string, unknown> {
    const maxResults = Number(query.get('MaxResults') ?? 100);
    if (!Number.isInteger(maxResults) || maxResults < 1 || maxResults > 100) {
      throw validation(
        `1 validation error detected: Value '${query.get('MaxResults')}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100`,
      );
    }
    const group = query.get('ScheduleGroup');
    const prefix = query.get('NamePrefix') ?? '';
    const state = query.get('State');
    const after = query.has('NextToken') ? Buffer.from(query.get('NextToken')!, 'base64url').toString('utf8') : '';
    const matching = [...groups.values()]
      .flatMap((schedules) => [...schedules.values()])
      .filter((s) => (group === null || s.group === group) && s.name.startsWith(prefix) && (state === null || s.definition.State === state))
      .map((s) => ({ key: `${s.group}\n${s.name}`, s }))
      .filter(({ key }) => key > after)
      .sort((a, b) => (a.key < b.key ? -1 : 1));
    const page = matching.slice(0, maxResults);
    const last = page.at(-1);
    return {
      Schedules: page.map(({ s }) => ({
        Arn: arnOf(s),
        Name: s.name,
        GroupName: s.group,
        State: s.definition.State,
        CreationDate: s.createdAt.getTime() / 1000,
        LastModificationDate: s.modifiedAt.getTime() / 1000,
        Target: { Arn: s.definition.Target.Arn },
      })),
      ...(matching.length > page.length && last ? { NextToken: Buffer.from(last.key).toString('base64url') } : {}),
    };
  }

  async function route(request: IncomingMessage): Promise<unknown> {
    const url = new URL(request.url ?? '/', 'http://local');
    const method = request.method ?? 'GET';
    const text = await readBody(request).catch(() => {
      throw validation('The request body is too large');
    });
    if (url.pathname === '/schedules' && method === 'GET') return list(url.searchParams);
    const match = /^\/schedules\/([^/]+)$/.exec(url.pathname);
    if (match) {
      const name = decodeURIComponent(match[1]!);
      const group = url.searchParams.get('groupName') ?? 'default';
      if (method === 'GET') return get(find(group, name));
      if (method === 'DELETE') {
        remove(find(group, name));
        return {};
      }
      if (method === 'POST' || method === 'PUT') return { ScheduleArn: put(name, parseBody(text), method === 'POST') };
    }
    throw new SchedulerError('UnknownOperationException', 404, `No operation ${method} ${url.pathname}`);
  }

  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    route(request).then(
      (body) => send(response, 200, body),
      (error: unknown) => {
        const failure = error instanceof SchedulerError ? error : new SchedulerError('InternalServerException', 500, 'Unexpected error.');
        if (!(error instanceof SchedulerError)) console.error('local-scheduler: unexpected error', error);
        send(response, failure.status, { Message: failure.message }, failure.name);
      },
    );
  });
  const url = await listenOnLoopback(server, options.port ?? 0);

  const idle = async () => {
    while (firing.size > 0) await Promise.all(firing);
  };
  return {
    url,
    port: Number(new URL(url).port),
    idle,
    async close() {
      for (const schedules of groups.values()) for (const schedule of schedules.values()) schedule.cancelTimer?.();
      await idle();
      await closeServer(server);
    },
  };
}

function parseBody(text: string): Record<string, unknown> {
  try {
    const body: unknown = text === '' ? {} : JSON.parse(text);
    if (body !== null && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new SchedulerError('SerializationException', 400, 'The request body is not a JSON object.');
}

/** Checks a Create/UpdateSchedule request as the Scheduler does; answers its definition and, for `at(...)`, when it fires. */
function validate(name: string, body: Record<string, unknown>): { definition: Definition; fireAtMs: number | undefined } {
  const target = (body.Target ?? {}) as Record<string, unknown>;
  const window = (body.FlexibleTimeWindow ?? {}) as Record<string, unknown>;
  const absent = (value: unknown) => value === undefined || value === null;
  const missing = [
    absent(body.ScheduleExpression) && 'scheduleExpression',
    absent(body.FlexibleTimeWindow) ? 'flexibleTimeWindow' : absent(window.Mode) && 'flexibleTimeWindow.mode',
    ...(absent(body.Target) ? ['target'] : [absent(target.Arn) && 'target.arn', absent(target.RoleArn) && 'target.roleArn']),
  ].filter((path) => typeof path === 'string');
  if (missing.length > 0) {
    const errors = missing.map((path) => `Value null at '${path}' failed to satisfy constraint: Member must not be null`);
    throw validation(`${errors.length} validation error${errors.length === 1 ? '' : 's'} detected: ${errors.join('; ')}`);
  }
  for (const [path, value] of [
    ['name', name],
    ['groupName', body.GroupName ?? 'default'],
  ] as const) {
    if (typeof value !== 'string' || !NAME.test(value)) {
      throw validation(
        `1 validation error detected: Value '${shown(value)}' at '${path}' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+`,
      );
    }
  }
  const expression = body.ScheduleExpression;
  const parsed = typeof expression === 'string' ? parseExpression(expression) : undefined;
  if (parsed === undefined) throw validation(`Invalid Schedule Expression ${shown(expression)}.`);
  const timeZone = body.ScheduleExpressionTimezone ?? 'UTC';
  if (typeof timeZone !== 'string' || !isTimeZone(timeZone)) throw validation(`Invalid ScheduleExpressionTimezone ${shown(timeZone)}.`);
  if (window.Mode !== 'OFF' && window.Mode !== 'FLEXIBLE') throw validation(`Invalid FlexibleTimeWindow Mode ${shown(window.Mode)}.`);
  if (window.Mode === 'FLEXIBLE' && !(Number.isInteger(window.MaximumWindowInMinutes) && (window.MaximumWindowInMinutes as number) >= 1)) {
    throw validation('MaximumWindowInMinutes is required when FlexibleTimeWindow Mode is FLEXIBLE.');
  }
  const state = body.State ?? 'ENABLED';
  if (state !== 'ENABLED' && state !== 'DISABLED') throw validation(`Invalid State ${shown(state)}.`);
  const after = body.ActionAfterCompletion ?? 'NONE';
  if (after !== 'NONE' && after !== 'DELETE') throw validation(`Invalid ActionAfterCompletion ${shown(after)}.`);

  const { GroupName: _group, ClientToken: _token, ...members } = body;
  const definition: Definition = { ...members, Target: target, State: state, ActionAfterCompletion: after };
  const fires = parsed.kind === 'at' && state === 'ENABLED';
  return { definition, fireAtMs: fires ? zonedTimeToUtc(parsed.wallClockMs, timeZone) : undefined };
}

const shown = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value));

function send(response: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-RequestId': randomUUID(),
    ...(errorType === undefined ? {} : { 'x-amzn-ErrorType': errorType }),
  });
  response.end(text);
}
