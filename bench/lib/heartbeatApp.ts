/**
 * The heartbeat section's App (scenarios/heartbeat.ts), the same in the bench's process and in the
 * drain process it SIGKILLs (heartbeatDrainProcess.ts): one queue whose lease is shorter than its
 * one job type's handler, so only heartbeats keep the message from a second delivery.
 */
import { setTimeout as wait } from 'node:timers/promises';
import * as z from 'zod';
import { createApp, type App } from '../../lib/app.js';
import { systemClock } from '../../lib/clock.js';
import { defineConfig } from '../../lib/config.js';
import type { Db } from '../../lib/db/types.js';
import type { DrainTuning } from '../../lib/drain/types.js';
import { defineJobType, type JobContext } from '../../lib/jobs/types.js';
import { LEASE_MARGIN_MS } from '../../lib/queues.js';

export const HEARTBEAT_QUEUE = 'bench-beats';
export const LONG_TYPE = 'bench.long';

export interface HeartbeatScale {
  leaseSeconds: number;
  /** How long the handler's first attempt works. */
  handlerMs: number;
  /** The job type's timeout: longer than the work, as a real handler's is. */
  timeoutMs: number;
  /** The drain process is SIGKILLed this long after its handler started. */
  killAfterMs: number;
  /** The config's leaseMarginMs and the drain's safetyMarginMs. */
  marginMs: number;
}

/** Issue 25's target as it reads: a 90 s handler on a 30 s lease, the drain killed 40 s in; the product's margin. */
export const FULL_SCALE: HeartbeatScale = { leaseSeconds: 30, handlerMs: 90_000, timeoutMs: 120_000, killAfterMs: 40_000, marginMs: LEASE_MARGIN_MS };

/**
 * `--quick`: the same at a fifth. A tenth (a 3 s lease) is refused: the shortest lease heartbeats
 * keep is a claim's 2 s plus 1.5 × (margin + a beat's 2 s), 5.75 s with a 0.5 s margin
 * (lib/queues.ts heartbeatLeaseMs), as test/drain/heartbeats.test.ts uses.
 */
export const QUICK_SCALE: HeartbeatScale = { leaseSeconds: 6, handlerMs: 18_000, timeoutMs: 24_000, killAfterMs: 8_000, marginMs: 500 };

export function heartbeatTuning(scale: HeartbeatScale): Partial<DrainTuning> {
  return { safetyMarginMs: scale.marginMs };
}

/**
 * The first attempt works `handlerMs` (until its signal aborts); a later one ends at once, as the
 * bench only times when it starts. `onStart` is called as each attempt starts.
 */
export function heartbeatApp(db: Db, scale: HeartbeatScale, onStart: (context: JobContext) => void): App {
  const long = defineJobType({
    type: LONG_TYPE,
    payload: z.object({}),
    timeoutMs: scale.timeoutMs,
    handle: async (_payload, context) => {
      onStart(context);
      if (context.attempt === 1) await wait(scale.handlerMs, undefined, { signal: context.signal });
    },
  });
  const config = defineConfig({ queues: [{ name: HEARTBEAT_QUEUE, leaseSeconds: scale.leaseSeconds }], jobTypes: [long], leaseMarginMs: scale.marginMs });
  return createApp({ db, env: {}, config, clock: systemClock });
}
