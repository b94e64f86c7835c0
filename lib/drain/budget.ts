import { minimumLeaseMs } from '../queues.js';

/**
 * Time-budget decisions of a drain run, as pure functions of numbers read from the clock, so they
 * can be pinned exactly in tests.
 *
 * The rule: a lane claims only what it can finish, in the worst case, before both the new lease
 * ends and the run must stop, keeping `marginMs` free at the end of each for the settle calls.
 * The worst case is every handler running to its timeout: the messages a lane already holds
 * and the new ones go through `concurrency` slots in waves of `timeoutMs`, and a rate limit adds
 * the time it takes to hand out that many starts.
 */

export interface ClaimBudgetInput {
  /** Time left in the run (the Lambda's remaining time). */
  remainingMs: number;
  /** The lease a claim made now would take. */
  leaseMs: number;
  /** Kept free at the end of a lease and of the run: the claim's round trip, the settle calls. */
  marginMs: number;
  /** The longest any handler may run before it is abandoned. */
  timeoutMs: number;
  concurrency: number;
  ratePerSecond: number | undefined;
  /** Lease time a claim's round trip uses before its messages can start (CLAIM_ALLOWANCE_MS). */
  claimAllowanceMs: number;
  /** Messages the lane holds and has not finished: claims in flight, waiting and running. */
  held: number;
  /** Most messages one claim takes. */
  batchSize: number;
  /**
   * Messages one handler call takes at fewest, whatever their type: 1 unless every registered
   * type is a batch type (then the smallest maxSize). A batch is one handler of its timeout, so a
   * claim of n such messages costs ceil(n / messagesPerHandler) handlers, not n. `held` is
   * counted in handlers already. Default 1.
   */
  messagesPerHandler?: number;
}

/** How long `messages` take at worst from now: whole waves of timeouts, plus the rate limit's spacing. */
export function worstCaseMs(messages: number, concurrency: number, timeoutMs: number, ratePerSecond: number | undefined): number {
  if (messages <= 0) return 0;
  const waves = Math.ceil(messages / concurrency);
  // From an empty bucket, the last message's token comes messages / rate after now.
  const spacingMs = ratePerSecond === undefined ? 0 : Math.ceil((messages * 1_000) / ratePerSecond);
  return waves * timeoutMs + spacingMs;
}

/**
 * How many messages a lane may claim now; 0 means not now (wait for held messages to finish) or,
 * when the lane holds none, not in this run. While the lane holds messages it claims whole
 * batches only: a sliver would cost a claim and a read for a few messages, and once the held
 * ones finish a bigger claim fits.
 */
export function claimLimit(input: ClaimBudgetInput): number {
  const fitting = largestFitting(input);
  return input.held > 0 && fitting < input.batchSize ? 0 : fitting;
}

function largestFitting(input: ClaimBudgetInput): number {
  const availableMs = Math.min(input.leaseMs - input.claimAllowanceMs, input.remainingMs) - input.marginMs;
  const perHandler = Math.max(1, Math.floor(input.messagesPerHandler ?? 1));
  const fits = (n: number) => worstCaseMs(input.held + Math.ceil(n / perHandler), input.concurrency, input.timeoutMs, input.ratePerSecond) <= availableMs;
  // worstCaseMs grows with n: binary search for the largest n that fits.
  let low = 0;
  let high = Math.max(0, Math.floor(input.batchSize));
  if (!fits(1)) return 0;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (fits(mid)) low = mid;
    else high = mid - 1;
  }
  return low;
}

export interface StartCheckInput {
  nowMs: number;
  /** This message's handler timeout. */
  timeoutMs: number;
  /** When the message's lease ends (its available_at while running). */
  leaseUntilMs: number;
  /** Time left in the run. */
  remainingMs: number;
  marginMs: number;
  /**
   * Heartbeats keep the lease (a queue whose lease is shorter than its handlers): the lease need
   * only be held, with the margin, as the handler starts; the run must still fit the handler.
   */
  keptAlive?: boolean;
}

/**
 * Whether a claimed message may start now: its handler, even if it runs to its timeout, must end
 * with `marginMs` to spare before its lease does and before the run must stop. A message that
 * may not start is released (its attempt given back), never run where another drainer could
 * take it over mid-run. The claim budget makes this hold for every message it lets in; the check
 * catches what the budget cannot see, such as a claim call that took longer than planned. Where
 * heartbeats keep the lease, only the run bounds the handler.
 */
export function mayStart(input: StartCheckInput): boolean {
  if (input.keptAlive === true) return input.marginMs <= input.leaseUntilMs - input.nowMs && input.timeoutMs + input.marginMs <= input.remainingMs;
  return input.timeoutMs + input.marginMs <= Math.min(input.leaseUntilMs - input.nowMs, input.remainingMs);
}

/** Whether a lease fits a handler by the one rule (see minimumLeaseMs), or a queue can never be drained. */
export function leaseFitsOneMessage(leaseMs: number, timeoutMs: number, marginMs: number): boolean {
  return minimumLeaseMs(timeoutMs, marginMs) <= leaseMs;
}

export interface RunCheckInput {
  /** Time left in the run when it starts. */
  remainingMs: number;
  /** The longest handler timeout. */
  timeoutMs: number;
  marginMs: number;
  /** The queue's per-run rate; its spacing delays even the first start. */
  ratePerSecond: number | undefined;
}

/**
 * Whether a run can take even one message of a queue: the claim budget's own rule (claimLimit)
 * for a lane that holds nothing, on the run's time alone. A run that cannot drains nothing.
 */
export function runFitsOneMessage(input: RunCheckInput): boolean {
  return worstCaseMs(1, 1, input.timeoutMs, input.ratePerSecond) <= input.remainingMs - input.marginMs;
}
