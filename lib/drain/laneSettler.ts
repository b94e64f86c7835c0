import type { Clock } from '../clock.js';
import type { Db } from '../db/types.js';
import { describeError } from '../errors.js';
import type { QueueConfig } from '../queues.js';
import { Settler, type SettlerOptions } from './settle.js';
import type { DrainLog, DrainTuning } from './types.js';

/** An outcome whose writes keep failing is given up this long before its lease ends. */
export const SETTLE_GIVE_UP_BEFORE_LEASE_END_MS = 1_000;

/** What a lane's settler needs of the lane's options (LaneOptions has them all). */
export interface LaneSettlerInput {
  db: Db;
  clock: Clock;
  queue: QueueConfig;
  tuning: DrainTuning;
  /** Time left in the run, as the Lambda sees it. */
  remainingTimeMs: () => number;
  random: () => number;
  log: DrainLog;
}

/** What the settler tells its lane. */
export interface LaneSettlerEvents {
  /** After every write: the lane looks again. */
  onWrite: () => void;
  /** Writes were given up: an error of the run, for its summary. */
  onGiveUp: (error: string) => void;
}

/**
 * The settler options of a lane: how its queue's outcomes are batched, when failing writes are
 * given up, and what is logged. Of repeated failures only the first is logged.
 */
export function laneSettlerOptions(lane: Omit<LaneSettlerInput, 'db' | 'clock'>, events: LaneSettlerEvents): SettlerOptions {
  const { queue, log } = lane;
  let failures = 0;
  return {
    flushSize: lane.tuning.settleFlushSize,
    // A FIFO group's next message waits for this one's outcome: write it at once, not in a while.
    lingerMs: queue.fifo ? 0 : lane.tuning.settleLingerMs,
    giveUpBeforeLeaseEndMs: SETTLE_GIVE_UP_BEFORE_LEASE_END_MS,
    // The handler's hard stop comes 1 s before the Lambda's end; a write needs a moment before it.
    hasTime: () => lane.remainingTimeMs() > SETTLE_GIVE_UP_BEFORE_LEASE_END_MS,
    random: lane.random,
    onWrite: events.onWrite,
    onError: (what, rows, error) => {
      if (failures++ === 0) {
        log.warn('settle write failed; retrying until shortly before the leases end', {
          queue: queue.name,
          write: what,
          rows,
          error: describeError(error),
        });
      }
    },
    onGiveUp: (what, rows) => {
      events.onGiveUp(`${what} of ${rows} messages given up after failed writes; they come back when their lease ends`);
      log.error('settle writes given up; the messages come back when their lease ends', { queue: queue.name, write: what, rows });
    },
    onLostLeases: (what, lost) =>
      log.warn('lease lost before settling: another drainer may have run these messages', {
        queue: queue.name,
        write: what,
        lost,
      }),
  };
}

/** The Settler that writes a lane's outcomes (lib/drain/settle.ts), wired to the lane and its log. */
export function laneSettler(lane: LaneSettlerInput, events: LaneSettlerEvents): Settler {
  return new Settler(lane.db, lane.clock, laneSettlerOptions(lane, events));
}
