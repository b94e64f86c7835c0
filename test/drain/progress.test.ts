/** ProgressWriter: context.progress written at most once a second per message, the latest value winning, never awaited. */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../lib/clock.js';
import { progressText, ProgressWriter } from '../../lib/drain/progress.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A writer on a ManualClock whose sleeps end only when the test says, and whose writes it records. */
function harness(options: { slow?: boolean; failing?: (progress: string) => boolean } = {}) {
  const clock = new ManualClock(T0);
  const sleeps: { ms: number; wake: () => void }[] = [];
  const writes: { id: string; progress: string; atMs: number }[] = [];
  const inFlight: (() => void)[] = [];
  const errors: unknown[] = [];
  const writer = new ProgressWriter({
    clock,
    sleep: (ms) => new Promise<void>((wake) => sleeps.push({ ms, wake })),
    write: async (held, progress, now) => {
      writes.push({ id: held.id, progress, atMs: now.getTime() - T0 });
      if (options.slow) await new Promise<void>((done) => inFlight.push(done));
      if (options.failing?.(progress)) throw new Error('unavailable');
    },
    onError: (_held, error) => errors.push(error),
  });
  /** Moves the clock to `ms` after T0 and ends the sleeps due by then. */
  const at = async (ms: number) => {
    clock.set(T0 + ms);
    await settle();
  };
  const wakeAll = async () => {
    for (const sleep of sleeps.splice(0)) sleep.wake();
    await settle();
  };
  return { clock, writer, writes, sleeps, inFlight, errors, at, wakeAll };
}

const held = { id: 'm1', leaseToken: 'lease-1' };

describe('ProgressWriter', () => {
  it('writes the first value at once, then the latest of each second when the second is up', async () => {
    const { writer, writes, sleeps, at, wakeAll } = harness();
    writer.report(held, '0.1');
    await settle();
    expect(writes).toEqual([{ id: 'm1', progress: '0.1', atMs: 0 }]);
    await at(100);
    writer.report(held, '0.2');
    await at(200);
    writer.report(held, '0.3');
    // One wait, until the second since the last write is up; the later value replaced the earlier.
    expect(sleeps.map((s) => s.ms)).toEqual([900]);
    await at(1_000);
    await wakeAll();
    expect(writes).toEqual([
      { id: 'm1', progress: '0.1', atMs: 0 },
      { id: 'm1', progress: '0.3', atMs: 1_000 },
    ]);
    // Nothing pending: no write, no wait.
    await at(5_000);
    expect(sleeps).toEqual([]);
    writer.report(held, '0.9');
    await settle();
    expect(writes.at(-1)).toEqual({ id: 'm1', progress: '0.9', atMs: 5_000 });
  });

  it('writes what is pending at once when the attempt ends, and then forgets the message', async () => {
    const { writer, writes, at } = harness();
    writer.report(held, '1');
    await at(300);
    writer.report(held, '{"step":2}');
    writer.end('m1');
    await settle();
    expect(writes).toEqual([
      { id: 'm1', progress: '1', atMs: 0 },
      { id: 'm1', progress: '{"step":2}', atMs: 300 },
    ]);
    expect(writer.tracked).toBe(0);
    // Ending a message with nothing pending writes nothing.
    writer.end('m1');
    writer.end('unknown');
    expect(writes).toHaveLength(2);
  });

  it('keeps one write per message in flight: a value made meanwhile waits for it, then for its second', async () => {
    const { writer, writes, inFlight, at, wakeAll } = harness({ slow: true });
    writer.report(held, '1');
    await settle();
    await at(1_500);
    writer.report(held, '2');
    await settle();
    expect(writes.map((w) => w.progress)).toEqual(['1']);
    inFlight.shift()!();
    await settle();
    // The second since the last write is up: written when the first one ended.
    expect(writes.map((w) => w.progress)).toEqual(['1', '2']);
    inFlight.shift()!();
    await wakeAll();
    // Other messages are throttled apart.
    writer.report({ id: 'm2', leaseToken: 'lease-1' }, '7');
    await settle();
    expect(writes.at(-1)).toMatchObject({ id: 'm2', progress: '7' });
  });

  it('only reports a failed write; the next value is written as usual', async () => {
    const { writer, writes, errors, at, wakeAll } = harness({ failing: (progress) => progress === '1' });
    writer.report(held, '1');
    await settle();
    expect(errors).toHaveLength(1);
    await at(400);
    writer.report(held, '2');
    await at(1_000);
    await wakeAll();
    expect(writes.map((w) => w.progress)).toEqual(['1', '2']);
    expect(errors).toHaveLength(1);
  });
});

describe('progressText', () => {
  it('takes a finite number or a small JSON object, and names the rule of anything else', () => {
    expect(progressText(0.5)).toBe('0.5');
    expect(progressText({ step: 'upload', done: 3, of: 10 })).toBe('{"step":"upload","done":3,"of":10}');
    expect(() => progressText(Number.NaN)).toThrow(new TypeError('progress must be a finite number or a JSON object, got NaN'));
    expect(() => progressText('half')).toThrow(new TypeError('progress must be a finite number or a JSON object, got string'));
    expect(() => progressText([1])).toThrow(new TypeError('progress must be a finite number or a JSON object, got an array'));
    expect(() => progressText({ n: 1n })).toThrow(/^progress must be JSON \(/);
    expect(() => progressText({ text: 'x'.repeat(600) })).toThrow(new TypeError('progress must be at most 512 bytes of JSON text, got 611'));
  });
});
