/** A lane's ready messages (lib/drain/readyQueue.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { ReadyQueue } from '../../lib/drain/readyQueue.js';

const message = (id: string, notBeforeMs?: number) => ({ id, ...(notBeforeMs === undefined ? {} : { notBeforeMs }) });

describe('ReadyQueue', () => {
  it('gives its messages back in the order they came, peeking without taking', () => {
    const ready = new ReadyQueue<{ id: string; notBeforeMs?: number }>();
    expect(ready.size).toBe(0);
    expect(ready.peek()).toBeUndefined();
    ready.push(message('a'));
    ready.push(message('b'));
    expect(ready.peek()?.id).toBe('a');
    expect(ready.size).toBe(2);
    expect(ready.take().id).toBe('a');
    ready.push(message('c'));
    expect([ready.take().id, ready.take().id]).toEqual(['b', 'c']);
    expect(ready.size).toBe(0);
    expect(ready.peek()).toBeUndefined();
  });

  it('is usable again once emptied', () => {
    const ready = new ReadyQueue<{ id: string; notBeforeMs?: number }>();
    ready.push(message('a'));
    ready.take();
    ready.push(message('b'));
    expect(ready.size).toBe(1);
    expect(ready.take().id).toBe('b');
  });

  it('counts the messages at the tail whose start time has not come, not those already taken', () => {
    const ready = new ReadyQueue<{ id: string; notBeforeMs?: number }>();
    for (const [id, at] of [
      ['a', 100],
      ['b', 200],
      ['c', 300],
      ['d', 300],
    ] as const)
      ready.push(message(id, at));
    expect(ready.waitingToStart(50)).toBe(4);
    expect(ready.waitingToStart(150)).toBe(3);
    expect(ready.waitingToStart(300)).toBe(0);
    ready.take();
    expect(ready.waitingToStart(50)).toBe(3);
  });

  it('counts a message without a start time as due', () => {
    const ready = new ReadyQueue<{ id: string; notBeforeMs?: number }>();
    ready.push(message('a', 500));
    ready.push(message('b'));
    expect(ready.waitingToStart(0)).toBe(0);
  });
});
