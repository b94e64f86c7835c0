/** UUIDv7 ids (RFC 9562): their bit layout, and an order that FIFO queues rely on whatever the clock does. */
import { describe, expect, it } from 'vitest';
import { isUuid, uuidv7, uuidv7Generator } from '../lib/ids.js';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

/** The id's 128 bits, most significant first. */
const bits = (id: string) => BigInt(`0x${id.replaceAll('-', '')}`);
const field = (id: string, from: number, width: number) => Number((bits(id) >> BigInt(128 - from - width)) & ((1n << BigInt(width)) - 1n));
const layout = (id: string) => ({ ms: field(id, 0, 48), version: field(id, 48, 4), randA: field(id, 52, 12), variant: field(id, 64, 2) });

function expectIncreasing(ids: readonly string[]) {
  for (let i = 1; i < ids.length; i++) if (!(ids[i - 1]! < ids[i]!)) expect.fail(`id ${i} (${ids[i]}) is not after id ${i - 1} (${ids[i - 1]})`);
  // As strings and as the 128-bit numbers the database's binary collation compares alike.
  expect([...ids].sort()).toEqual(ids);
}

describe('uuidv7', () => {
  it('lays out version 7, variant 10 and the injected clock as the 48-bit millisecond timestamp', () => {
    const next = uuidv7Generator();
    for (const ms of [T0, T0 + 1, T0 + 86_400_000, 2 ** 48 - 1]) {
      const id = next(ms);
      expect(isUuid(id)).toBe(true);
      expect(id[14]).toBe('7');
      expect('89ab').toContain(id[19]);
      expect(layout(id)).toMatchObject({ ms, version: 7, variant: 0b10 });
    }
  });

  it('starts each millisecond at a random count of at most 0x3ff, leaving 3,000 ids of room', () => {
    const counts = Array.from({ length: 200 }, (_, n) => layout(uuidv7Generator()(T0 + n)).randA);
    expect(Math.max(...counts)).toBeLessThanOrEqual(0x3ff);
    expect(new Set(counts).size).toBeGreaterThan(100);
  });

  it('counts up within one millisecond, and borrows the next millisecond when the 12-bit count runs out', () => {
    const next = uuidv7Generator();
    const ids = Array.from({ length: 10_000 }, () => next(T0));
    expectIncreasing(ids);
    const [first] = ids.map(layout);
    expect(first!.ms).toBe(T0);
    // Each id counts one on from the one before it, carrying into the timestamp at 0xfff.
    for (let i = 1; i < ids.length; i++) {
      const before = layout(ids[i - 1]!);
      const after = layout(ids[i]!);
      const expected = before.randA === 0xfff ? { ms: before.ms + 1, randA: 0 } : { ms: before.ms, randA: before.randA + 1 };
      if (after.ms !== expected.ms || after.randA !== expected.randA) expect.fail(`id ${i}: ${JSON.stringify(after)} after ${JSON.stringify(before)}`);
    }
    // 10,000 ids with at least 3,072 per millisecond take at most 4 milliseconds.
    expect(layout(ids.at(-1)!).ms).toBeLessThanOrEqual(T0 + 3);
    // The clock catching up does not go back below a borrowed millisecond.
    const later = next(T0 + 1);
    expect(later > ids.at(-1)!).toBe(true);
  });

  it('keeps increasing when the clock steps back, keeping the last millisecond until the clock passes it', () => {
    const next = uuidv7Generator();
    const ids = [next(T0), next(T0 + 5), next(T0 + 5), next(T0 + 2), next(T0 - 3_600_000), next(T0), next(T0 + 5)];
    expectIncreasing(ids);
    expect(ids.map((id) => layout(id).ms)).toEqual([T0, T0 + 5, T0 + 5, T0 + 5, T0 + 5, T0 + 5, T0 + 5]);
    const ahead = next(T0 + 6);
    expect(ahead > ids.at(-1)!).toBe(true);
    expect(layout(ahead).ms).toBe(T0 + 6);
  });

  it('keeps increasing over many ids whatever the clock does: steady, repeated, stepping back, jumping ahead', () => {
    const next = uuidv7Generator();
    let ms = T0;
    let seed = 1;
    const random = () => ((seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647) * 2 - 1;
    const ids = Array.from({ length: 50_000 }, () => next((ms += Math.round(random() * 3) * (random() > 0.95 ? 10_000 : 1))));
    expectIncreasing(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("is one sequence for the process: the default generator's ids increase across callers with different clocks", () => {
    const ids = [uuidv7(T0), uuidv7(), uuidv7(T0), uuidv7(T0 - 1), uuidv7(), uuidv7(Date.now() + 60_000), uuidv7()];
    expectIncreasing(ids);
  });

  it('fills the rest with random bits', () => {
    const next = uuidv7Generator();
    const tails = new Set(Array.from({ length: 1_000 }, () => next(T0).slice(19)));
    expect(tails.size).toBe(1_000);
  });
});
