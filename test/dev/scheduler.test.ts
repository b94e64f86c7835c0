/**
 * The local EventBridge Scheduler (dev/scheduler), driven only through @aws-sdk/client-scheduler
 * and lib/wakeScheduler.ts, the code path the deployed functions use. Time is a manual clock and
 * a fake timer: schedules fire when the test moves the clock, never by waiting.
 */
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  ListSchedulesCommand,
  paginateListSchedules,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
  type CreateScheduleCommandInput,
} from '@aws-sdk/client-scheduler';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { atExpression, eventBridgeWakeScheduler, wakeScheduleName } from '../../lib/wakeScheduler.js';
import { parseExpression, zonedTimeToUtc } from '../../dev/scheduler/expressions.js';
import { lambdaFunctionOf, lambdaTargetInvoker } from '../../dev/scheduler/lambdaTarget.js';
import { startLocalScheduler, type LocalScheduler, type SetTimer } from '../../dev/scheduler/server.js';
import { startTestHttpServer, type TestHttpServer } from '../../dev/testHttpServer.js';

const T0 = '2026-05-01T10:00:00.000Z';
const DRAIN_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:aurora-queue-local-drain';
const ROLE_ARN = 'arn:aws:iam::000000000000:role/aurora-queue-local-scheduler';

/** Timers that run only when the clock is moved past them, in time order. */
class FakeTimers {
  readonly clock = new ManualClock(T0);
  #timers: { atMs: number; fire: () => void }[] = [];

  readonly setTimer: SetTimer = (delayMs, fire) => {
    const timer = { atMs: this.clock.now().getTime() + delayMs, fire };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((t) => t !== timer);
    };
  };

  advanceTo(to: Date | string): void {
    const toMs = new Date(to).getTime();
    for (;;) {
      const next = this.#timers.filter((t) => t.atMs <= toMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (next === undefined) break;
      this.#timers = this.#timers.filter((t) => t !== next);
      this.clock.set(Math.max(next.atMs, this.clock.now().getTime()));
      next.fire();
    }
    this.clock.set(toMs);
  }

  get pending(): number {
    return this.#timers.length;
  }
}

interface Harness {
  scheduler: LocalScheduler;
  client: SchedulerClient;
  timers: FakeTimers;
  invoked: { arn: string; input: string | undefined; at: string }[];
  lines: string[];
}

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const resource of open.splice(0).reverse()) await resource.close();
});

async function start(invoke?: (arn: string, input: string | undefined) => Promise<void>, firingDelayMs?: () => number): Promise<Harness> {
  const timers = new FakeTimers();
  const invoked: Harness['invoked'] = [];
  const lines: string[] = [];
  const scheduler = await startLocalScheduler({
    clock: timers.clock,
    setTimer: timers.setTimer,
    ...(firingDelayMs === undefined ? {} : { firingDelayMs }),
    log: (line) => lines.push(line),
    invoke:
      invoke ??
      (async (arn, input) => {
        invoked.push({ arn, input, at: timers.clock.now().toISOString() });
      }),
  });
  const client = new SchedulerClient({ endpoint: scheduler.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  open.push(scheduler, { close: () => client.destroy() });
  return { scheduler, client, timers, invoked, lines };
}

function schedule(name: string, overrides: Partial<CreateScheduleCommandInput> = {}): CreateScheduleCommandInput {
  return {
    Name: name,
    GroupName: 'aurora-queue-local',
    ScheduleExpression: 'at(2026-05-01T10:05:00)',
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    Target: { Arn: DRAIN_ARN, RoleArn: ROLE_ARN, Input: JSON.stringify({ queue: name, wake: true }) },
    ...overrides,
  };
}

const names = async (client: SchedulerClient, group = 'aurora-queue-local') =>
  ((await client.send(new ListSchedulesCommand({ GroupName: group }))).Schedules ?? []).map((s) => s.Name);

describe('the Scheduler API, through the SDK', () => {
  it('creates, gets, updates (replacing the definition), lists and deletes a schedule', async () => {
    const { client, timers } = await start();
    const created = await client.send(new CreateScheduleCommand(schedule('sms', { Description: 'wake sms' })));
    expect(created.ScheduleArn).toBe('arn:aws:scheduler:us-east-1:000000000000:schedule/aurora-queue-local/sms');

    const got = await client.send(new GetScheduleCommand({ Name: 'sms', GroupName: 'aurora-queue-local' }));
    expect(got).toMatchObject({
      Arn: created.ScheduleArn,
      Name: 'sms',
      GroupName: 'aurora-queue-local',
      ScheduleExpression: 'at(2026-05-01T10:05:00)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Description: 'wake sms',
      ActionAfterCompletion: 'DELETE',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: { Arn: DRAIN_ARN, RoleArn: ROLE_ARN, Input: '{"queue":"sms","wake":true}' },
    });
    expect(got.CreationDate).toEqual(new Date(T0));

    timers.clock.advance(1_000);
    await client.send(new UpdateScheduleCommand(schedule('sms', { ScheduleExpression: 'at(2026-05-01T10:07:00)' })));
    const updated = await client.send(new GetScheduleCommand({ Name: 'sms', GroupName: 'aurora-queue-local' }));
    expect(updated.ScheduleExpression).toBe('at(2026-05-01T10:07:00)');
    // Everything is replaced: what the update leaves out is gone.
    expect(updated.Description).toBeUndefined();
    expect(updated.CreationDate).toEqual(new Date(T0));
    expect(updated.LastModificationDate).toEqual(new Date(Date.parse(T0) + 1_000));

    await client.send(new CreateScheduleCommand(schedule('orders')));
    await client.send(new CreateScheduleCommand(schedule('sms', { GroupName: 'other' })));
    expect(await names(client)).toEqual(['orders', 'sms']);
    const summaries = (await client.send(new ListSchedulesCommand({ NamePrefix: 'sm' }))).Schedules;
    expect(summaries?.map((s) => [s.GroupName, s.Name, s.State, s.Target?.Arn])).toEqual([
      ['aurora-queue-local', 'sms', 'ENABLED', DRAIN_ARN],
      ['other', 'sms', 'ENABLED', DRAIN_ARN],
    ]);

    await client.send(new DeleteScheduleCommand({ Name: 'sms', GroupName: 'aurora-queue-local' }));
    expect(await names(client)).toEqual(['orders']);
    await expect(client.send(new GetScheduleCommand({ Name: 'sms', GroupName: 'aurora-queue-local' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(client.send(new DeleteScheduleCommand({ Name: 'sms', GroupName: 'aurora-queue-local' }))).rejects.toBeInstanceOf(ResourceNotFoundException);
    // The other group's schedule of the same name is its own.
    expect(await names(client, 'other')).toEqual(['sms']);
  });

  it('pages ListSchedules by MaxResults and NextToken', async () => {
    const { client } = await start();
    for (const name of ['a', 'b', 'c', 'd', 'e']) await client.send(new CreateScheduleCommand(schedule(name)));
    const pages: string[][] = [];
    for await (const page of paginateListSchedules({ client, pageSize: 2 }, { GroupName: 'aurora-queue-local' })) {
      pages.push((page.Schedules ?? []).map((s) => s.Name!));
    }
    expect(pages).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('throws ResourceNotFoundException for an update of a missing schedule, ConflictException for a second create', async () => {
    const { client } = await start();
    const missing = await client.send(new UpdateScheduleCommand(schedule('sms'))).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(missing).toMatchObject({ name: 'ResourceNotFoundException', message: 'Schedule sms does not exist.', $metadata: { httpStatusCode: 404 } });

    await client.send(new CreateScheduleCommand(schedule('sms')));
    const conflict = await client.send(new CreateScheduleCommand(schedule('sms'))).catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(ConflictException);
    expect(conflict).toMatchObject({ message: 'Schedule sms already exists.', $metadata: { httpStatusCode: 409 } });
    // A retried create (the same idempotency token) succeeds again.
    await client.send(new CreateScheduleCommand(schedule('orders', { ClientToken: 'once' })));
    await client.send(new CreateScheduleCommand(schedule('orders', { ClientToken: 'once' })));
  });

  it('throws ValidationException for a bad expression, time zone, name or a missing member', async () => {
    const { client } = await start();
    const refusal = (input: CreateScheduleCommandInput) => client.send(new CreateScheduleCommand(input)).catch((error: unknown) => error);

    for (const expression of [
      'at(2026-13-01T00:00:00)',
      'at(2026-02-30T00:00:00)',
      'at(2026-05-01 10:05:00)',
      'rate(0 minutes)',
      'rate(5 weeks)',
      'cron(0 10 * * ?)',
      'soon',
    ]) {
      const error = await refusal(schedule('sms', { ScheduleExpression: expression }));
      expect(error, expression).toBeInstanceOf(ValidationException);
      expect(error).toMatchObject({ message: `Invalid Schedule Expression ${expression}.`, $metadata: { httpStatusCode: 400 } });
    }
    expect(await refusal(schedule('sms', { ScheduleExpressionTimezone: 'Mars/Olympus' }))).toMatchObject({
      name: 'ValidationException',
      message: 'Invalid ScheduleExpressionTimezone Mars/Olympus.',
    });
    expect(await refusal(schedule('sms:orders'))).toMatchObject({
      name: 'ValidationException',
      message:
        "1 validation error detected: Value 'sms:orders' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+",
    });
    expect(await refusal({ ...schedule('sms'), Target: undefined, ScheduleExpression: undefined })).toMatchObject({
      name: 'ValidationException',
      message:
        "2 validation errors detected: Value null at 'scheduleExpression' failed to satisfy constraint: Member must not be null; Value null at 'target' failed to satisfy constraint: Member must not be null",
    });
    expect(await refusal(schedule('sms', { Target: { Arn: DRAIN_ARN } as never }))).toMatchObject({
      message: "1 validation error detected: Value null at 'target.roleArn' failed to satisfy constraint: Member must not be null",
    });
    expect(await names(client)).toEqual([]);
  });
});

describe('firing', () => {
  it('fires within the minute of its time when told to, as AWS does (npm start: a random second of it)', async () => {
    const { client, timers, invoked } = await start(undefined, () => 59_000);
    await client.send(new CreateScheduleCommand(schedule('late')));
    timers.advanceTo('2026-05-01T10:05:58.999Z');
    expect(invoked).toEqual([]);
    timers.advanceTo('2026-05-01T10:05:59.000Z');
    expect(invoked.map((call) => call.at)).toEqual(['2026-05-01T10:05:59.000Z']);
    // What it answers of the schedule is what was asked for.
    await client.send(new CreateScheduleCommand(schedule('asked')));
    expect((await client.send(new GetScheduleCommand({ Name: 'asked', GroupName: 'aurora-queue-local' }))).ScheduleExpression).toBe('at(2026-05-01T10:05:00)');
  });

  it('invokes an at() schedule once at its time with its Input, then deletes it', async () => {
    const { client, scheduler, timers, invoked, lines } = await start();
    await client.send(new CreateScheduleCommand(schedule('sms')));

    timers.advanceTo('2026-05-01T10:04:59.999Z');
    expect(invoked).toEqual([]);
    timers.advanceTo('2026-05-01T10:05:00.000Z');
    expect(invoked).toEqual([{ arn: DRAIN_ARN, input: '{"queue":"sms","wake":true}', at: '2026-05-01T10:05:00.000Z' }]);
    await scheduler.idle();
    expect(await names(client)).toEqual([]);
    expect(lines).toEqual([`aurora-queue-local/sms invoked ${DRAIN_ARN} with {"queue":"sms","wake":true}`]);

    timers.advanceTo('2026-05-02T00:00:00.000Z');
    expect(invoked).toHaveLength(1);
    expect(timers.pending).toBe(0);
  });

  it('keeps a schedule without ActionAfterCompletion DELETE after it fires, and fires it no more', async () => {
    const { client, scheduler, timers, invoked } = await start();
    await client.send(new CreateScheduleCommand(schedule('sms', { ActionAfterCompletion: undefined })));
    timers.advanceTo('2026-05-01T10:06:00.000Z');
    await scheduler.idle();
    expect(invoked).toHaveLength(1);
    expect((await client.send(new GetScheduleCommand({ Name: 'sms', GroupName: 'aurora-queue-local' }))).ActionAfterCompletion).toBe('NONE');
    timers.advanceTo('2026-05-03T00:00:00.000Z');
    expect(invoked).toHaveLength(1);
  });

  it('reads an at() time in its ScheduleExpressionTimezone', async () => {
    const { client, timers, invoked } = await start();
    // 12:05 in Berlin is 10:05 UTC in May (CEST, UTC+2).
    await client.send(
      new CreateScheduleCommand(schedule('sms', { ScheduleExpression: 'at(2026-05-01T12:05:00)', ScheduleExpressionTimezone: 'Europe/Berlin' })),
    );
    timers.advanceTo('2026-05-01T10:04:59.000Z');
    expect(invoked).toEqual([]);
    timers.advanceTo('2026-05-01T10:05:00.000Z');
    expect(invoked.map((i) => i.at)).toEqual(['2026-05-01T10:05:00.000Z']);
  });

  it('fires no replaced, deleted, disabled, rate() or cron() schedule', async () => {
    const { client, timers, invoked } = await start();
    await client.send(new CreateScheduleCommand(schedule('replaced')));
    await client.send(new UpdateScheduleCommand(schedule('replaced', { ScheduleExpression: 'at(2026-05-01T11:00:00)' })));
    await client.send(new CreateScheduleCommand(schedule('deleted')));
    await client.send(new DeleteScheduleCommand({ Name: 'deleted', GroupName: 'aurora-queue-local' }));
    await client.send(new CreateScheduleCommand(schedule('disabled', { State: 'DISABLED' })));
    await client.send(new CreateScheduleCommand(schedule('rate', { ScheduleExpression: 'rate(1 minute)' })));
    await client.send(new CreateScheduleCommand(schedule('cron', { ScheduleExpression: 'cron(0/5 * * * ? *)' })));

    timers.advanceTo('2026-05-01T10:59:59.000Z');
    expect(invoked).toEqual([]);
    expect(await names(client)).toEqual(['cron', 'disabled', 'rate', 'replaced']);
    timers.advanceTo('2026-05-01T11:00:00.000Z');
    expect(invoked.map((i) => i.input)).toEqual(['{"queue":"replaced","wake":true}']);
  });

  it('fires an at() time already past at once, and logs an invoke that fails (the schedule still completes)', async () => {
    const { client, scheduler, timers, lines } = await start(async () => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:3002');
    });
    await client.send(new CreateScheduleCommand(schedule('sms', { ScheduleExpression: 'at(2026-05-01T09:00:00)' })));
    timers.advanceTo(T0);
    await scheduler.idle();
    expect(lines).toEqual([`aurora-queue-local/sms could not invoke ${DRAIN_ARN}: connect ECONNREFUSED 127.0.0.1:3002`]);
    expect(await names(client)).toEqual([]);
  });

  it('fires on the real clock and timer by default', async () => {
    const invoked: string[] = [];
    const scheduler = await startLocalScheduler({ invoke: async (arn) => void invoked.push(arn) });
    const client = new SchedulerClient({ endpoint: scheduler.url, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    open.push(scheduler, { close: () => client.destroy() });
    await client.send(new CreateScheduleCommand(schedule('sms', { ScheduleExpression: atExpression(new Date(Date.now() - 1_000)) })));
    await expect.poll(() => invoked, { timeout: 5_000 }).toEqual([DRAIN_ARN]);
    await scheduler.idle();
    expect(await names(client)).toEqual([]);
  });
});

describe('lib/wakeScheduler.ts against the local Scheduler', () => {
  async function wakes() {
    const harness = await start();
    const wake = eventBridgeWakeScheduler({
      groupName: 'aurora-queue-local',
      namePrefix: 'local-',
      targetArn: DRAIN_ARN,
      roleArn: ROLE_ARN,
      endpoint: harness.scheduler.url,
      region: 'us-east-1',
    });
    return { ...harness, wake };
  }

  it('creates the queue’s schedule, which wakes the drain with { queue, wake: true, wakeAt } at its time and is then gone', async () => {
    const { client, scheduler, timers, invoked, wake } = await wakes();
    await wake.setWake('sms', new Date('2026-05-01T10:05:00.000Z'));
    const got = await client.send(new GetScheduleCommand({ Name: 'local-sms', GroupName: 'aurora-queue-local' }));
    expect(got).toMatchObject({ ScheduleExpression: 'at(2026-05-01T10:05:00)', ScheduleExpressionTimezone: 'UTC', ActionAfterCompletion: 'DELETE' });

    timers.advanceTo('2026-05-01T10:05:00.000Z');
    await scheduler.idle();
    expect(invoked).toEqual([{ arn: DRAIN_ARN, input: '{"queue":"sms","wake":true,"wakeAt":"2026-05-01T10:05:00.000Z"}', at: '2026-05-01T10:05:00.000Z' }]);
    expect(await names(client)).toEqual([]);

    // The next wake finds no schedule (it deleted itself) and creates one again.
    await wake.setWake('sms', new Date('2026-05-01T10:20:00.000Z'));
    expect(await names(client)).toEqual(['local-sms']);
  });

  it('leaves one schedule per queue: a second wake replaces the first (the later time stands)', async () => {
    const { client, timers, invoked, wake } = await wakes();
    await wake.setWake('orders', new Date('2026-05-01T10:05:00.000Z'));
    await wake.setWake('orders', new Date('2026-05-01T10:09:00.000Z'));
    await wake.setWake('sms:eu', new Date('2026-05-01T10:06:00.000Z'));

    const euName = wakeScheduleName('local-', 'sms:eu');
    expect(await names(client)).toEqual([euName, 'local-orders'].sort());
    expect((await client.send(new GetScheduleCommand({ Name: 'local-orders', GroupName: 'aurora-queue-local' }))).ScheduleExpression).toBe(
      'at(2026-05-01T10:09:00)',
    );

    timers.advanceTo('2026-05-01T10:08:59.000Z');
    const eu = '{"queue":"sms:eu","wake":true,"wakeAt":"2026-05-01T10:06:00.000Z"}';
    expect(invoked.map((i) => i.input)).toEqual([eu]);
    timers.advanceTo('2026-05-01T10:09:00.000Z');
    expect(invoked.map((i) => i.input)).toEqual([eu, '{"queue":"orders","wake":true,"wakeAt":"2026-05-01T10:09:00.000Z"}']);
  });
});

describe('lambdaTargetInvoker', () => {
  let lambda: TestHttpServer;

  it('invokes the function the ARN names, asynchronously, with the Input as its event', async () => {
    lambda = await startTestHttpServer({ status: 202, body: '' });
    open.push(lambda);
    const invoke = lambdaTargetInvoker({ endpoint: lambda.url });
    await invoke(DRAIN_ARN, '{"queue":"sms","wake":true}');
    await invoke(`${DRAIN_ARN}:live`, undefined);
    expect(lambda.requests.map((r) => [r.method, r.path, r.headers['x-amz-invocation-type'], r.body])).toEqual([
      ['POST', '/2015-03-31/functions/aurora-queue-local-drain/invocations', 'Event', '{"queue":"sms","wake":true}'],
      ['POST', '/2015-03-31/functions/aurora-queue-local-drain/invocations?Qualifier=live', 'Event', '{}'],
    ]);
  });

  it('refuses a target that is not a Lambda function', async () => {
    expect(lambdaFunctionOf('arn:aws:sqs:us-east-1:000000000000:queue')).toBeUndefined();
    await expect(lambdaTargetInvoker({ endpoint: 'http://127.0.0.1:9' })('arn:aws:sqs:us-east-1:000000000000:queue', '{}')).rejects.toThrow(
      'the local Scheduler invokes Lambda functions only, not arn:aws:sqs:us-east-1:000000000000:queue',
    );
  });
});

describe('expressions', () => {
  it('reads at() as a wall-clock time and places it in a time zone across daylight saving', () => {
    expect(parseExpression('at(2026-05-01T10:05:30)')).toEqual({ kind: 'at', wallClockMs: Date.parse('2026-05-01T10:05:30Z') });
    expect(parseExpression('at(2026-05-01T10:05:60)')).toBeUndefined();
    expect(parseExpression('rate(5 minutes)')).toEqual({ kind: 'rate' });
    expect(parseExpression('cron(0 10 * * ? *)')).toEqual({ kind: 'cron' });
    const utc = (wall: string, zone: string) => new Date(zonedTimeToUtc(Date.parse(`${wall}Z`), zone)).toISOString();
    expect(utc('2026-01-15T12:00:00', 'Europe/Berlin')).toBe('2026-01-15T11:00:00.000Z');
    expect(utc('2026-07-15T12:00:00', 'Europe/Berlin')).toBe('2026-07-15T10:00:00.000Z');
    expect(utc('2026-07-15T12:00:00', 'America/New_York')).toBe('2026-07-15T16:00:00.000Z');
    expect(utc('2026-07-15T12:00:00', 'UTC')).toBe('2026-07-15T12:00:00.000Z');
  });
});
