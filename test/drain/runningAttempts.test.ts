/** RunningAttempts: how a lane's heartbeats and cancel polls stop its running attempts. */
import { describe, expect, it } from 'vitest';
import type { CancelWatch } from '../../lib/drain/cancelWatch.js';
import type { Outcome } from '../../lib/drain/dispatch.js';
import type { KeptLease, LeaseKeeper } from '../../lib/drain/leaseKeeper.js';
import { RunningAttempts } from '../../lib/drain/runningAttempts.js';
import { CancelRequestedError, LeaseLostError } from '../../lib/errors.js';

function attempts() {
  const watched = new Set<string>();
  const extended: [string, number][] = [];
  const cancels = { watch: (m: { id: string }) => watched.add(m.id), unwatch: (id: string) => watched.delete(id) } as unknown as CancelWatch;
  const leases = { extend: async (m: KeptLease, ms: number) => void extended.push([m.id, ms]) } as unknown as LeaseKeeper;
  return { running: new RunningAttempts(leases, cancels), watched, extended };
}

const message = (id: string): KeptLease => ({ id, leaseToken: `lease-${id}`, leaseUntilMs: 60_000 });

describe('RunningAttempts', () => {
  it('watches a started attempt for cancels, and stops it with a CancelRequestedError and the cancelled outcome', () => {
    const { running, watched } = attempts();
    const stops: [unknown, Outcome][] = [];
    running.control(message('a')).started((reason, outcome) => stops.push([reason, outcome]));
    expect([...watched]).toEqual(['a']);
    running.cancel('a');
    expect(stops[0]![0]).toBeInstanceOf(CancelRequestedError);
    expect(stops[0]![1]).toEqual({ kind: 'cancelled', error: 'cancelled while running: cancel requested' });
  });

  it('stops running attempts whose lease is lost with a LeaseLostError, and keeps any other lost one from starting', () => {
    const { running } = attempts();
    const stops: [unknown, Outcome][] = [];
    const started = message('a');
    const waiting = message('b');
    running.control(started).started((reason, outcome) => stops.push([reason, outcome]));
    running.lost([started, waiting], 'lease lost');
    expect(stops).toHaveLength(1);
    expect(stops[0]![0]).toBeInstanceOf(LeaseLostError);
    expect(stops[0]![1]).toEqual({ kind: 'lost', error: 'lease lost' });
    expect([started.leaseUntilMs, waiting.leaseUntilMs]).toEqual([0, 0]);
  });

  it('stops nothing once the attempt ended, and extends its lease through the lease keeper', async () => {
    const { running, watched, extended } = attempts();
    const stops: unknown[] = [];
    const control = running.control(message('a'));
    control.started((reason) => stops.push(reason));
    await control.extendLease(90);
    expect(extended).toEqual([['a', 90_000]]);
    running.ended('a');
    running.cancel('a');
    running.lost([message('a')], 'gone');
    expect(stops).toEqual([]);
    expect(watched.size).toBe(0);
  });
});
