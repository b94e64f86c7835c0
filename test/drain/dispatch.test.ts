import { BadRequestException, DatabaseErrorException } from '@aws-sdk/client-rds-data';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { MAX_ERROR_LENGTH, describeError } from '../../lib/errors.js';
import { dispatch, finalOutcome, type DispatchMessage, type Outcome } from '../../lib/drain/dispatch.js';
import { DatabaseError, StatementTimeoutError, toDatabaseError, TransactionNotFoundError } from '../../lib/db/errors.js';
import { CancelRequestedError, PermanentError, QueueError, RetryableError } from '../../lib/errors.js';
import { defineJobType, type JobContext, type JobType, type SingleJobType } from '../../lib/jobs/types.js';

const schema = z.object({ to: z.string().regex(/^\+\d+$/), count: z.number().int().optional() });

function message(overrides: Partial<DispatchMessage> = {}): DispatchMessage {
  return {
    id: '0190a000-0000-7000-8000-000000000001',
    queue: 'sms',
    type: 'test.job',
    payload: { to: '+15550001111' },
    attempts: 1,
    maxAttempts: 5,
    ...overrides,
  };
}

function jobType(handle: (payload: z.output<typeof schema>, context: JobContext) => Promise<void>, extra: Partial<SingleJobType> = {}): JobType {
  return defineJobType({ type: 'test.job', payload: schema, handle, ...extra });
}

const options = { timeoutMs: 1_000 };

describe('dispatch', () => {
  it('parses with an async schema too (async refinements): done when it passes, dead naming the field when it fails', async () => {
    const asyncSchema = z.object({ to: z.string() }).refine(async (value) => value.to.startsWith('+'), { message: 'must be a phone number', path: ['to'] });
    const seen: unknown[] = [];
    const type = defineJobType({ type: 'test.job', payload: asyncSchema, handle: async (payload) => void seen.push(payload) });
    expect(await dispatch(message(), type, options)).toEqual({ kind: 'done' });
    expect(seen).toEqual([{ to: '+15550001111' }]);
    const refused = await dispatch(message({ payload: { to: '15550001111' } }), type, options);
    expect(refused).toMatchObject({ kind: 'dead', error: expect.stringContaining('schema: to: ') as unknown });
    expect(seen).toHaveLength(1);
  });

  it('gives the handler only the message and its signal, nothing of the attempt', async () => {
    let context: JobContext | undefined;
    await dispatch(
      message(),
      jobType(async (_payload, c) => void (context = c)),
      options,
    );
    expect(Object.keys(context!).sort()).toEqual(['attempt', 'id', 'maxAttempts', 'queue', 'type']);
  });

  it('is done when the handler resolves, and hands it the parsed payload and context', async () => {
    let seen: { payload: unknown; context: JobContext } | undefined;
    const type = jobType(async (payload, context) => {
      seen = { payload, context };
    });
    const outcome = await dispatch(message({ attempts: 2 }), type, options);
    expect(outcome).toEqual({ kind: 'done' });
    expect(seen?.payload).toEqual({ to: '+15550001111' });
    expect(seen?.context).toMatchObject({ id: message().id, queue: 'sms', type: 'test.job', attempt: 2, maxAttempts: 5 });
    expect(seen?.context.signal.aborted).toBe(false);
  });

  it('passes the schema output (defaults, transforms) to the handler', async () => {
    let seen: unknown;
    const withDefault = defineJobType({
      type: 'test.job',
      payload: z.object({ n: z.number().default(7) }),
      handle: async (payload) => {
        seen = payload;
      },
    }) as JobType;
    await dispatch(message({ payload: {} }), withDefault, options);
    expect(seen).toEqual({ n: 7 });
  });

  it('is dead when the payload no longer parses, naming the paths but not the values', async () => {
    let called = false;
    const type = jobType(async () => {
      called = true;
    });
    const outcome = await dispatch(message({ payload: { to: 'secret-value', count: 1.5, extra: 1 } }), type, options);
    expect(called).toBe(false);
    expect(outcome.kind).toBe('dead');
    const error = (outcome as { error: string }).error;
    expect(error).toContain('"test.job" schema');
    expect(error).toContain('to: invalid_format');
    expect(error).toContain('count: invalid_type');
    expect(error).not.toContain('secret-value');
    expect(error).not.toContain('1.5');
  });

  it('is dead when the payload is not even an object', async () => {
    const outcome = await dispatch(
      message({ payload: null }),
      jobType(async () => {}),
      options,
    );
    expect(outcome).toEqual({ kind: 'dead', error: 'payload does not match the "test.job" schema: (root): invalid_type' });
  });

  it('is dead when the schema itself throws', async () => {
    const throwing = defineJobType({
      type: 'test.job',
      payload: z.unknown().transform(() => {
        throw new Error('schema bug');
      }),
      handle: async () => {},
    }) as JobType;
    expect(await dispatch(message(), throwing, options)).toEqual({
      kind: 'dead',
      error: 'payload schema of "test.job" threw: Error: schema bug',
    });
  });

  it('is dead when the handler throws a PermanentError', async () => {
    const type = jobType(async () => {
      throw new PermanentError('400 Bad Request');
    });
    expect(await dispatch(message(), type, options)).toEqual({ kind: 'dead', error: 'PermanentError: 400 Bad Request' });
  });

  it('is dead for a subclass of PermanentError', async () => {
    class NoSuchNumberError extends PermanentError {
      constructor() {
        super('number does not exist');
      }
    }
    const type = jobType(async () => {
      throw new NoSuchNumberError();
    });
    expect(await dispatch(message(), type, options)).toEqual({ kind: 'dead', error: 'NoSuchNumberError: number does not exist' });
  });

  // `retryable: false` on these says "do not re-send this statement", not "never try the job again".
  it.each([
    ['a DatabaseError the Data API refused', new DatabaseError('Database error code: 1146. Message: Table is missing', { retryable: false })],
    ['a statement timeout', new StatementTimeoutError('the statement may still be running')],
    ['a transaction that expired', new TransactionNotFoundError('Transaction abc is not found')],
    ['a QueueError that is not retryable', new QueueError('not now', { retryable: false })],
  ])('retries, never dead-letters, %s thrown by the handler', async (_name, error) => {
    const type = jobType(async () => {
      throw error;
    });
    expect(await dispatch(message(), type, options)).toMatchObject({ kind: 'retry' });
  });

  it('retries a RetryableError with its retryAfterMs', async () => {
    const type = jobType(async () => {
      throw new RetryableError('429 Too Many Requests', { retryAfterMs: 30_000 });
    });
    expect(await dispatch(message(), type, options)).toEqual({
      kind: 'retry',
      error: 'RetryableError: 429 Too Many Requests',
      retryAfterMs: 30_000,
    });
  });

  it('retries a RetryableError without retryAfterMs, or with a nonsense one, without retryAfterMs', async () => {
    const plain = await dispatch(
      message(),
      jobType(async () => {
        throw new RetryableError('503');
      }),
      options,
    );
    expect(plain).toEqual({ kind: 'retry', error: 'RetryableError: 503' });
    const negative = await dispatch(
      message(),
      jobType(async () => {
        throw new RetryableError('x', { retryAfterMs: -1 });
      }),
      options,
    );
    expect(negative).toEqual({ kind: 'retry', error: 'RetryableError: x' });
  });

  it('retries any other error, with the cause but without a stack trace', async () => {
    const type = jobType(async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:9') });
    });
    const outcome = await dispatch(message(), type, options);
    expect(outcome).toEqual({
      kind: 'retry',
      error: 'TypeError: fetch failed (cause: Error: connect ECONNREFUSED 127.0.0.1:9)',
    });
    expect((outcome as { error: string }).error).not.toMatch(/\bat /);
  });

  it.each<[string, unknown, string]>([
    ['a string', 'boom', 'boom'],
    ['an empty string', '', 'non-Error thrown: empty string'],
    ['undefined', undefined, 'non-Error thrown: undefined'],
    ['null', null, 'non-Error thrown: null'],
    ['an object', { code: 42 }, 'non-Error thrown: {"code":42}'],
    ['a number', 7, 'non-Error thrown: 7'],
  ])('retries when the handler throws %s', async (_label, thrown, error) => {
    const type = jobType(async () => {
      throw thrown;
    });
    expect(await dispatch(message(), type, options)).toEqual({ kind: 'retry', error });
  });

  it('retries when the handler returns a promise rejected with null', async () => {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a rejection with null is the case under test
    const type = jobType(() => Promise.reject(null));
    expect(await dispatch(message(), type, options)).toEqual({ kind: 'retry', error: 'non-Error thrown: null' });
  });

  it('retries when the handler throws synchronously, before returning a promise', async () => {
    const type = jobType(() => {
      throw new Error('sync');
    });
    expect(await dispatch(message(), type, options)).toEqual({ kind: 'retry', error: 'Error: sync' });
  });

  it('abandons a handler that hangs past the timeout and aborts its signal', async () => {
    let signal: AbortSignal | undefined;
    const type = jobType((_payload, context) => {
      signal = context.signal;
      return new Promise<void>(() => {});
    });
    const outcome = await dispatch(message(), type, { timeoutMs: 50 });
    expect(outcome).toEqual({ kind: 'retry', error: 'timed out after 50 ms' });
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(RetryableError);
  });

  it("uses the type's timeoutMs over the default", async () => {
    const type = jobType(() => new Promise<void>(() => {}), { timeoutMs: 60 });
    expect(await dispatch(message(), type, { timeoutMs: 60_000 })).toEqual({ kind: 'retry', error: 'timed out after 60 ms' });
  });

  it('ignores what an abandoned handler does later', async () => {
    const type = jobType(
      (_payload, context) =>
        new Promise<void>((_resolve, reject) => {
          context.signal.addEventListener('abort', () => setTimeout(() => reject(new PermanentError('late')), 5));
        }),
    );
    expect(await dispatch(message(), type, { timeoutMs: 50 })).toEqual({ kind: 'retry', error: 'timed out after 50 ms' });
    await new Promise((resolve) => setTimeout(resolve, 20));
  });

  it('abandons the handler when the drain run aborts', async () => {
    const run = new AbortController();
    let signal: AbortSignal | undefined;
    const type = jobType((_payload, context) => {
      signal = context.signal;
      setTimeout(() => run.abort(new Error('deadline near')), 10);
      return new Promise<void>(() => {});
    });
    const outcome = await dispatch(message(), type, { timeoutMs: 60_000, signal: run.signal });
    expect(outcome).toEqual({ kind: 'retry', error: 'abandoned: drain run aborted (Error: deadline near)' });
    expect(signal?.aborted).toBe(true);
  });

  it('lets its lane stop the attempt (a cancel, a lost lease): the signal aborts with the reason, the outcome is the one given', async () => {
    let signal: AbortSignal | undefined;
    let stop: ((reason: unknown, outcome: Outcome) => void) | undefined;
    const type = jobType((_payload, context) => {
      signal = context.signal;
      return new Promise<void>(() => {});
    });
    const control = { started: (s: typeof stop) => (stop = s), extendLease: async () => {} };
    const outcome = dispatch(message(), type, { timeoutMs: 60_000, control });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const reason = new CancelRequestedError('cancel requested');
    stop!(reason, { kind: 'cancelled', error: 'cancelled while running' });
    expect(await outcome).toEqual({ kind: 'cancelled', error: 'cancelled while running' });
    expect(signal!.reason).toBe(reason);
  });

  it('keeps the outcome of a handler that finished before its lane stopped it', async () => {
    let stop: ((reason: unknown, outcome: Outcome) => void) | undefined;
    const control = { started: (s: typeof stop) => (stop = s), extendLease: async () => {} };
    const outcome = await dispatch(
      message(),
      jobType(async () => {}),
      { timeoutMs: 60_000, control },
    );
    stop!(new CancelRequestedError('too late'), { kind: 'cancelled', error: 'too late' });
    expect(outcome).toEqual({ kind: 'done' });
  });

  it('context.extendLease goes to the lane; without one (or for nonsense seconds) it rejects', async () => {
    const asked: number[] = [];
    const control = { started: () => {}, extendLease: async (seconds: number) => void asked.push(seconds) };
    const errors: unknown[] = [];
    const type = jobType(async (_payload, context) => {
      await context.extendLease(90);
      errors.push(await context.extendLease(0).catch((e: unknown) => e));
    });
    expect(await dispatch(message(), type, { timeoutMs: 1_000, control })).toEqual({ kind: 'done' });
    expect(asked).toEqual([90]);
    expect(errors[0]).toBeInstanceOf(RangeError);
    const alone = jobType(async (_payload, context) => context.extendLease(10));
    expect(await dispatch(message(), alone, { timeoutMs: 1_000 })).toMatchObject({ kind: 'retry', error: expect.stringContaining('holds no lease') });
  });

  it('does not start the handler when the drain run is already aborted', async () => {
    let called = false;
    const type = jobType(async () => {
      called = true;
    });
    const outcome = await dispatch(message(), type, { timeoutMs: 1_000, signal: AbortSignal.abort('stop') });
    expect(called).toBe(false);
    expect(outcome).toEqual({ kind: 'retry', error: 'not started: drain run aborted (stop)' });
  });

  it('abandons every handler in flight when the drain run aborts', async () => {
    const run = new AbortController();
    const signals: AbortSignal[] = [];
    const type = jobType((_payload, context) => {
      signals.push(context.signal);
      return new Promise<void>(() => {});
    });
    const outcomes = Promise.all([1, 2, 3].map(() => dispatch(message(), type, { timeoutMs: 60_000, signal: run.signal })));
    await new Promise((resolve) => setTimeout(resolve, 10));
    run.abort(new Error('deadline near'));
    expect(await outcomes).toEqual([1, 2, 3].map(() => ({ kind: 'retry', error: 'abandoned: drain run aborted (Error: deadline near)' })));
    expect(signals.map((signal) => signal.aborted)).toEqual([true, true, true]);
  });

  it('gives a handler that reads its signal only after being abandoned an aborted one', async () => {
    let late: Promise<AbortSignal> | undefined;
    const type = jobType(async (_payload, context) => {
      late = new Promise((resolve) => setTimeout(() => resolve(context.signal), 80));
      await new Promise<void>(() => {});
    });
    expect(await dispatch(message(), type, { timeoutMs: 30 })).toEqual({ kind: 'retry', error: 'timed out after 30 ms' });
    const signal = await late!;
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(RetryableError);
  });

  it('leaves no timer behind once it returns, and one abort listener per run however many it dispatched', async () => {
    const run = new AbortController();
    let listeners = 0;
    const add = run.signal.addEventListener.bind(run.signal);
    const remove = run.signal.removeEventListener.bind(run.signal);
    run.signal.addEventListener = (...args: Parameters<AbortSignal['addEventListener']>) => {
      listeners++;
      add(...args);
    };
    run.signal.removeEventListener = (...args: Parameters<AbortSignal['removeEventListener']>) => {
      listeners--;
      remove(...args);
    };

    const timers = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
    const before = timers();
    for (let n = 0; n < 20; n++) {
      await dispatch(
        message(),
        jobType(async () => {}),
        { timeoutMs: 600_000, signal: run.signal },
      );
      await dispatch(
        message(),
        jobType(async () => {
          throw new Error('x');
        }),
        { timeoutMs: 600_000, signal: run.signal },
      );
    }
    expect(timers()).toBe(before);
    expect(listeners).toBe(1);
  });

  it('refuses a timeout that is not a positive number', async () => {
    await expect(
      dispatch(
        message(),
        jobType(async () => {}),
        { timeoutMs: 0 },
      ),
    ).rejects.toThrow(RangeError);
    await expect(
      dispatch(
        message(),
        jobType(async () => {}),
        { timeoutMs: Number.NaN },
      ),
    ).rejects.toThrow(RangeError);
  });

  it('truncates long error text', async () => {
    const type = jobType(async () => {
      throw new Error('x'.repeat(10_000));
    });
    const outcome = (await dispatch(message(), type, options)) as { error: string };
    expect(outcome.error).toHaveLength(MAX_ERROR_LENGTH);
    expect(outcome.error.startsWith('Error: xxx')).toBe(true);
    expect(outcome.error.endsWith('…')).toBe(true);
  });
});

describe('describeError', () => {
  it('copes with objects that cannot be stringified', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(describeError(circular)).toBe('non-Error thrown: (not describable)');
    expect(describeError({ big: 1n })).toBe('non-Error thrown: (not describable)');
  });

  it('uses the name alone for an error without a message', () => {
    expect(describeError(new RangeError())).toBe('RangeError');
  });

  // What the Data API says can quote the statement and its values.
  const syntaxError = () =>
    toDatabaseError(
      new BadRequestException({
        message:
          "Database error code: 1064. Message: You have an error in your SQL syntax near 'SELECT token FROM users WHERE email = 'ann@example.com'' at line 1",
        $metadata: { httpStatusCode: 400 },
      }),
    );

  it('describes a DatabaseError by its class and codes, never its SQL text or values', () => {
    expect(describeError(syntaxError())).toBe('DatabaseError: the database refused the statement (MySQL 1064)');
    const duplicate = toDatabaseError(
      new DatabaseErrorException({
        message: "Duplicate entry 'ann@example.com' for key 'ux_email'; Error code: 1062; SQLState: 23000",
        $metadata: { httpStatusCode: 400 },
      }),
    );
    expect(describeError(duplicate)).toBe('DuplicateKeyError: a unique key already holds this value (MySQL 1062, SQLSTATE 23000)');
    expect(describeError(new RetryableError('could not save the order', { cause: syntaxError() }))).toBe(
      'RetryableError: could not save the order (cause: DatabaseError: the database refused the statement (MySQL 1064))',
    );
  });

  it('stores no SQL when a handler throws a DatabaseError', async () => {
    const outcome = await dispatch(
      message(),
      jobType(async () => {
        throw syntaxError();
      }),
      options,
    );
    expect(outcome).toEqual({ kind: 'retry', error: 'DatabaseError: the database refused the statement (MySQL 1064)' });
  });
});

describe('dispatch: results and progress', () => {
  it("is done with the handler's return value as JSON text; none for undefined", async () => {
    const returning = (value: unknown) => defineJobType({ type: 'test.job', payload: schema, handle: async () => value });
    expect(await dispatch(message(), returning({ sid: 'SM1', segments: 2 }), options)).toEqual({ kind: 'done', result: '{"sid":"SM1","segments":2}' });
    expect(await dispatch(message(), returning(undefined), options)).toEqual({ kind: 'done' });
    expect(await dispatch(message(), returning(null), options)).toEqual({ kind: 'done' });
  });

  it('is done without a result, and says why, when the handler returns what cannot be stored', async () => {
    const returning = (value: unknown) => defineJobType({ type: 'test.job', payload: schema, handle: async () => value });
    expect(await dispatch(message(), returning('x'.repeat(60_000)), options)).toEqual({
      kind: 'done',
      resultRefused: 'the result must be at most 49152 bytes of JSON text, got 60002',
    });
    expect(await dispatch(message(), returning({ n: 1n }), options)).toMatchObject({
      kind: 'done',
      resultRefused: expect.stringContaining('must be JSON') as unknown,
    });
  });

  it('passes checked progress to the sink under the message lease while the attempt runs, and nothing after', async () => {
    const reported: [string, string, string][] = [];
    const progress = { report: (held: { id: string; leaseToken: string }, text: string) => void reported.push([held.id, held.leaseToken, text]) };
    let late: JobContext | undefined;
    const type = jobType(async (_payload, context) => {
      context.progress(0.5);
      context.progress({ step: 'sent' });
      late = context;
    });
    expect(await dispatch(message({ leaseToken: 'lease-1' }), type, { ...options, progress })).toEqual({ kind: 'done' });
    late!.progress(1);
    expect(reported).toEqual([
      [message().id, 'lease-1', '0.5'],
      [message().id, 'lease-1', '{"step":"sent"}'],
    ]);
  });

  it('throws a bad progress value in the handler: uncaught, the attempt is retried with the rule', async () => {
    const type = jobType(async (_payload, context) => context.progress(Number.POSITIVE_INFINITY));
    expect(await dispatch(message({ leaseToken: 'lease-1' }), type, options)).toEqual({
      kind: 'retry',
      error: 'TypeError: progress must be a finite number or a JSON object, got Infinity',
    });
  });
});

describe('finalOutcome', () => {
  const retry: Outcome = { kind: 'retry', error: 'RetryableError: 503', retryAfterMs: 1_000 };

  it('keeps a retry while attempts remain', () => {
    expect(finalOutcome(retry, 4, 5)).toBe(retry);
  });

  it('turns a retry into dead when attempts are exhausted, keeping the last error', () => {
    const expected = { kind: 'dead', error: 'attempts exhausted (5/5); last error: RetryableError: 503' };
    expect(finalOutcome(retry, 5, 5)).toEqual(expected);
    expect(finalOutcome(retry, 6, 5)).toEqual({ ...expected, error: expected.error.replace('5/5', '6/5') });
  });

  it('leaves done and dead alone', () => {
    expect(finalOutcome({ kind: 'done' }, 9, 1)).toEqual({ kind: 'done' });
    expect(finalOutcome({ kind: 'dead', error: 'e' }, 1, 5)).toEqual({ kind: 'dead', error: 'e' });
  });
});
