import { describe, expect, it } from 'vitest';
import { progressLine, ProgressReporter, type ProgressSnapshot } from '../../cli/progress.js';

const snapshot = (over: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  total: 10_000,
  done: 4_900,
  dead: 100,
  retrying: 250,
  running: 50,
  ratePerSecond: 712.4,
  ...over,
});

describe('progressLine', () => {
  it('draws a bar with the counts and rate', () => {
    expect(progressLine(snapshot(), { bar: true })).toBe('[############------------]  50%  5,000/10,000  done 4,900  retrying 250  dead 100  712 msg/s');
  });

  it('is a plain line without the bar, and full at the end', () => {
    expect(progressLine(snapshot(), { bar: false })).toBe('progress 50%  5,000/10,000  done 4,900  retrying 250  dead 100  712 msg/s');
    expect(progressLine(snapshot({ done: 9_990, dead: 10, retrying: 0 }), { bar: true })).toMatch(/^\[#{24}\] 100%/);
  });
});

describe('ProgressReporter', () => {
  function recorder(isTTY: boolean) {
    const writes: string[] = [];
    return { output: { isTTY, write: (text: string) => writes.push(text) }, writes };
  }

  it('redraws one line in place on a terminal and ends it with a newline', async () => {
    const { output, writes } = recorder(true);
    let done = 0;
    const reporter = new ProgressReporter({ output, read: async () => snapshot({ done: (done += 1_000), dead: 0 }), ttyIntervalMs: 5 });
    reporter.start();
    await new Promise((resolve) => setTimeout(resolve, 40));
    await reporter.stop(snapshot({ done: 10_000, dead: 0, retrying: 0 }));
    expect(writes.length).toBeGreaterThanOrEqual(3);
    expect(writes.slice(0, -1).every((text) => text.startsWith('\r\x1b[2K['))).toBe(true);
    expect(writes.at(-2)).toContain('10,000/10,000');
    expect(writes.at(-1)).toBe('\n');
  });

  it('writes whole lines when not a terminal, and survives a failing read', async () => {
    const { output, writes } = recorder(false);
    let calls = 0;
    const reporter = new ProgressReporter({
      output,
      read: async () => {
        calls++;
        if (calls === 1) throw new Error('database hiccup');
        return snapshot();
      },
      lineIntervalMs: 5,
    });
    reporter.start();
    await new Promise((resolve) => setTimeout(resolve, 40));
    await reporter.stop();
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(writes.every((text) => /^progress \d+%.*\n$/.test(text))).toBe(true);
  });
});
