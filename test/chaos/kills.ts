/**
 * Killing drain processes in a chaos test, the busiest first. Apart from harness.ts, which the
 * drain processes import too: this file uses vitest's expect.
 */
import { expect } from 'vitest';
import { waitFor } from '../support/waitFor.js';
import type { DispatchLog, DrainChild } from './harness.js';

/**
 * Once `children`, just started, have dispatched `moreDispatches` more messages (or all have
 * ended), SIGKILLs the `count` busiest still running: which runs hold the work is up to their
 * claims, so a fixed victim might already be gone. Answers each runner killed, with when.
 */
export async function killBusiest(
  children: readonly DrainChild[],
  log: DispatchLog,
  options: { moreDispatches: number; count: number; what: string },
): Promise<Map<string, number>> {
  const alive = new Set(children);
  for (const child of children) void child.exited.then(() => alive.delete(child));
  const before = await log.count();
  await waitFor(async () => (await log.count()) >= before + options.moreDispatches || alive.size === 0, 60_000, options.what);
  const counts = await Promise.all([...alive].map(async (child) => ({ child, dispatched: await log.count(child.runner) })));
  const killedAtMs = new Map<string, number>();
  for (const { child } of counts.sort((a, b) => b.dispatched - a.dispatched).slice(0, options.count)) {
    if (alive.has(child) && child.process.kill('SIGKILL')) killedAtMs.set(child.runner, Date.now());
  }
  return killedAtMs;
}

/** Each child's exit, checked: SIGKILL for the runners killed (unless one had just finished), a clean exit for the others. */
export async function checkedExits(children: readonly DrainChild[], killed: ReadonlyMap<string, number>): Promise<Awaited<DrainChild['exited']>[]> {
  const exits = await Promise.all(children.map((child) => child.exited));
  for (const [i, exit] of exits.entries()) {
    // A victim may have finished its run as the signal was sent (it had exited, not yet reaped).
    if (killed.has(children[i]!.runner) && exit.signal !== null) expect(exit.signal).toBe('SIGKILL');
    else expect(exit.code, exit.output).toBe(0);
  }
  return exits;
}
