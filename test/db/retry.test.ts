import { BadRequestException, DatabaseResumingException, InternalServerErrorException } from '@aws-sdk/client-rds-data';
import { describe, expect, it } from 'vitest';
import { DatabaseResumingError, DataApiUnavailableError, DeadlockError, DuplicateKeyError, StatementTimeoutError } from '../../lib/db/errors.js';
import { defaultRetryPolicy, withRetry, type CallKind } from '../../lib/db/retry.js';

const meta = { $metadata: { httpStatusCode: 400 } };
const resuming = () => new DatabaseResumingException({ message: 'The Aurora DB instance db-X is resuming after being auto-paused.', ...meta });
const internal = () => new InternalServerErrorException({ message: 'Internal', $metadata: { httpStatusCode: 500 } });
const deadlock = () => new BadRequestException({ message: 'Database error code: 1213. Message: Deadlock found', ...meta });

/** Throws the given errors in turn, then returns 'ok'; records how often it was called. */
function failing(...errors: Error[]) {
  const send = async () => {
    send.calls++;
    const error = errors.shift();
    if (error) throw error;
    return 'ok';
  };
  send.calls = 0;
  return send;
}

function recordingPolicy(overrides: Parameters<typeof defaultRetryPolicy>[0] = {}) {
  const slept: number[] = [];
  const policy = defaultRetryPolicy({ sleep: async (ms) => void slept.push(ms), random: () => 0.5, ...overrides });
  return { policy, slept };
}

const WRITE: CallKind = { replayable: false, inTransaction: false };
const READ: CallKind = { replayable: true, inTransaction: false };

describe('withRetry', () => {
  it('waits out a resuming database with the 0, 2, 5, 10, 15 s schedule, for writes too', async () => {
    const { policy, slept } = recordingPolicy();
    const send = failing(resuming(), resuming(), resuming(), resuming(), resuming());
    await expect(withRetry(send, WRITE, policy)).resolves.toBe('ok');
    expect(send.calls).toBe(6);
    expect(slept).toEqual([2_000, 5_000, 10_000, 15_000]); // the first retry is immediate
  });

  it('gives up resuming after the total wait and says how long it waited', async () => {
    const { policy, slept } = recordingPolicy();
    const send = failing(...Array.from({ length: 20 }, resuming));
    const error = await withRetry(send, READ, policy).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseResumingError);
    expect((error as DatabaseResumingError).retryable).toBe(true);
    expect((error as Error).message).toMatch(/after waiting 45000 ms/);
    expect(slept.reduce((a, b) => a + b, 0)).toBe(45_000);
    expect(slept).toEqual([2_000, 5_000, 10_000, 15_000, 13_000]);
  });

  it('honours custom resume delays and budget', async () => {
    const { policy, slept } = recordingPolicy({ resumeDelaysMs: [10], resumeMaxWaitMs: 35 });
    const send = failing(...Array.from({ length: 10 }, resuming));
    await expect(withRetry(send, READ, policy)).rejects.toBeInstanceOf(DatabaseResumingError);
    expect(slept).toEqual([10, 10, 10, 5]);
    expect(send.calls).toBe(5);
  });

  it('re-sends a replayable call after a 5xx, a bounded number of times', async () => {
    const { policy, slept } = recordingPolicy();
    await expect(withRetry(failing(internal(), internal()), READ, policy)).resolves.toBe('ok');
    expect(slept).toEqual([100, 500]);

    const always = failing(internal(), internal(), internal(), internal(), internal());
    await expect(withRetry(always, READ, policy)).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect(always.calls).toBe(4);
  });

  it('never re-sends a non-idempotent write after a 5xx or a reset connection', async () => {
    const { policy } = recordingPolicy();
    const send = failing(internal());
    const error = await withRetry(send, WRITE, policy).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataApiUnavailableError);
    expect(error).toMatchObject({ retryable: true, requestMayHaveRun: true });
    expect(send.calls).toBe(1);

    const reset = failing(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    await expect(withRetry(reset, WRITE, policy)).rejects.toBeInstanceOf(DataApiUnavailableError);
    expect(reset.calls).toBe(1);
  });

  it('re-sends a write whose request never reached the service', async () => {
    const { policy } = recordingPolicy();
    const send = failing(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    await expect(withRetry(send, WRITE, policy)).resolves.toBe('ok');
    expect(send.calls).toBe(2);
  });

  it('retries a deadlocked statement outside a transaction, but not inside one', async () => {
    const { policy } = recordingPolicy();
    const outside = failing(deadlock(), deadlock());
    await expect(withRetry(outside, WRITE, policy)).resolves.toBe('ok');
    expect(outside.calls).toBe(3);

    const inside = failing(deadlock());
    await expect(withRetry(inside, { replayable: true, inTransaction: true }, policy)).rejects.toBeInstanceOf(DeadlockError);
    expect(inside.calls).toBe(1);

    const forever = failing(deadlock(), deadlock(), deadlock(), deadlock(), deadlock());
    await expect(withRetry(forever, WRITE, policy)).rejects.toBeInstanceOf(DeadlockError);
    expect(forever.calls).toBe(4);
  });

  it('does not retry errors that a second attempt cannot fix', async () => {
    const { policy } = recordingPolicy();
    const duplicate = failing(new BadRequestException({ message: 'Database error code: 1062. Message: Duplicate entry', ...meta }));
    await expect(withRetry(duplicate, READ, policy)).rejects.toBeInstanceOf(DuplicateKeyError);
    const { StatementTimeoutException } = await import('@aws-sdk/client-rds-data');
    const timeout = failing(new StatementTimeoutException({ message: 'timed out', ...meta }));
    await expect(withRetry(timeout, READ, policy)).rejects.toBeInstanceOf(StatementTimeoutError);
    expect(duplicate.calls + timeout.calls).toBe(2);
  });
});

describe('deadlockBackoffMs', () => {
  it('grows with the attempt, is jittered, and is capped at 1 s', async () => {
    const { deadlockBackoffMs } = await import('../../lib/db/retry.js');
    expect(deadlockBackoffMs(1, () => 0)).toBe(20);
    expect(deadlockBackoffMs(1, () => 1)).toBe(40);
    expect(deadlockBackoffMs(3, () => 0.5)).toBe(120);
    expect(deadlockBackoffMs(20, () => 1)).toBe(1_000);
  });
});
