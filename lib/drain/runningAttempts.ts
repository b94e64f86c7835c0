import { CancelRequestedError, LeaseLostError } from '../errors.js';
import type { HeldMessage } from '../sql/heldMessage.js';
import type { CancelWatch } from './cancelWatch.js';
import type { AttemptControl, Outcome } from './dispatch.js';
import type { KeptLease, LeaseKeeper } from './leaseKeeper.js';

type Stop = (reason: unknown, outcome: Outcome) => void;

/**
 * A lane's running attempts, as its heartbeats and cancel polls reach them: what each attempt's
 * control is (lib/drain/dispatch.ts AttemptControl), and how an attempt is stopped when its lease
 * is lost (outcome `lost`: nothing written) or its cancel requested (outcome `cancelled`). An
 * attempt that reported its own outcome first is not stopped: its outcome stands.
 */
export class RunningAttempts {
  readonly #stops = new Map<string, Stop>();
  readonly #leases: LeaseKeeper;
  readonly #cancels: CancelWatch;

  constructor(leases: LeaseKeeper, cancels: CancelWatch) {
    this.#leases = leases;
    this.#cancels = cancels;
  }

  /** The control of a message's attempt: watched for cancels once it starts, its lease extended on request. */
  control(message: KeptLease & HeldMessage): AttemptControl {
    return {
      started: (stop) => {
        this.#stops.set(message.id, stop);
        this.#cancels.watch(message);
      },
      extendLease: (seconds) => this.#leases.extend(message, seconds * 1_000),
    };
  }

  /** The attempt reported its outcome (or was abandoned): nothing stops it any more. */
  ended(id: string): void {
    this.#stops.delete(id);
    this.#cancels.unwatch(id);
  }

  /** A cancel was requested for this running message: its signal aborts, and it settles `cancelled`. */
  cancel(id: string): void {
    this.#stops.get(id)?.(new CancelRequestedError(`message ${id}: cancel requested`), {
      kind: 'cancelled',
      error: 'cancelled while running: cancel requested',
    });
  }

  /**
   * Heartbeats found these leases gone: a running handler is stopped (its outcome is not written:
   * another drain may hold the message now), and one not started will not start (its lease end is
   * past, see mayStart).
   */
  lost(messages: readonly KeptLease[], reason: string): void {
    for (const message of messages) {
      message.leaseUntilMs = 0;
      this.#stops.get(message.id)?.(new LeaseLostError(`message ${message.id}: ${reason}`), { kind: 'lost', error: reason });
    }
  }
}
