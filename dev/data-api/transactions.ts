/**
 * Data API transactions: BeginTransaction pins one connection to a long random id; every call
 * with that id runs on it, one at a time; after 3 minutes without a call (or 24 hours in all)
 * the transaction is rolled back. Ended ids are remembered so later calls learn why they fail.
 */
import { randomBytes } from 'node:crypto';
import type { Session } from './connections.js';
import { databaseError, transactionNotFound } from './errors.js';

export interface Transaction {
  readonly id: string;
  readonly session: Session;
  readonly startedAt: number;
  /** A call is using the transaction (its statement may outlive the call: continueAfterTimeout). */
  busy: boolean;
  idleTimer?: NodeJS.Timeout;
}

const MAX_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Bounds the memory of ended ids; older ones then get the plain "isn't found". */
const REMEMBERED_ENDED = 10_000;

export const ENDED = {
  committed: 'was already committed',
  rolledBack: 'was already rolled back',
  aborted: 'was aborted due to an error from a previous call',
  lifetime: 'exceeded the maximum lifetime of 24 hours and was rolled back',
} as const;

export class Transactions {
  private readonly open = new Map<string, Transaction>();
  private readonly ended = new Map<string, string>();

  constructor(private readonly idleTimeoutMs: number) {}

  get size(): number {
    return this.open.size;
  }

  /** Registers a session on which START TRANSACTION succeeded; returns the new id. */
  begin(session: Session): string {
    // 138 random bytes → 184 base64url characters, the length local-data-api uses (AWS allows 192).
    const id = randomBytes(138).toString('base64url');
    const transaction: Transaction = { id, session, startedAt: Date.now(), busy: false };
    this.open.set(id, transaction);
    this.armIdleTimer(transaction);
    return id;
  }

  /** Checks the transaction out for one call; `leave` must follow. */
  enter(id: string): Transaction {
    const transaction = this.open.get(id);
    if (transaction === undefined) {
      const reason = this.ended.get(id);
      throw transactionNotFound(reason === undefined ? `Transaction ${id} isn't found` : `Transaction ${id} isn't found: the transaction ${reason}`);
    }
    if (transaction.busy) throw databaseError('Transaction is still running a query');
    if (Date.now() - transaction.startedAt > MAX_LIFETIME_MS) {
      void this.close(transaction, ENDED.lifetime, 'ROLLBACK');
      throw transactionNotFound(`Transaction ${id} isn't found: the transaction ${ENDED.lifetime}`);
    }
    clearTimeout(transaction.idleTimer);
    transaction.busy = true;
    return transaction;
  }

  /**
   * The call is over. The transaction stays busy until its statement has really finished, and
   * is rolled back and forgotten when `abortReason` is given (MySQL itself rolled it back).
   */
  async leave(transaction: Transaction, abortReason?: string): Promise<void> {
    await transaction.session.idle;
    if (abortReason !== undefined || transaction.session.broken) {
      await this.close(transaction, abortReason ?? ENDED.aborted, 'ROLLBACK');
      return;
    }
    transaction.busy = false;
    if (this.open.has(transaction.id)) this.armIdleTimer(transaction);
  }

  /** Ends the transaction: forgets it (with the reason later calls will see) and frees its connection. */
  async close(transaction: Transaction, reason: string, statement?: 'ROLLBACK'): Promise<void> {
    if (!this.open.delete(transaction.id)) return;
    clearTimeout(transaction.idleTimer);
    this.ended.set(transaction.id, reason);
    if (this.ended.size > REMEMBERED_ENDED) this.ended.delete(this.ended.keys().next().value!);
    if (statement !== undefined && !transaction.session.broken) {
      await transaction.session.query(statement).catch(() => {
        transaction.session.broken = true;
      });
    }
    await transaction.session.release();
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.open.values()].map((transaction) => this.close(transaction, ENDED.rolledBack, 'ROLLBACK')));
  }

  private armIdleTimer(transaction: Transaction): void {
    clearTimeout(transaction.idleTimer);
    transaction.idleTimer = setTimeout(() => {
      if (!transaction.busy) void this.close(transaction, `expired after ${this.idleTimeoutMs / 1000} seconds without a call and was rolled back`, 'ROLLBACK');
    }, this.idleTimeoutMs);
    transaction.idleTimer.unref();
  }
}
