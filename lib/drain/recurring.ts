/** Recurring messages written by a drain run: the due slots of the config's entries (lib/recurring.ts). */
import { ENQUEUE_LIMITS } from '../../schema/messages.js';
import type { App } from '../app.js';
import { checkMessage, type CheckedMessage } from '../enqueue.js';
import { ValidationError } from '../errors.js';
import { dueSlots, lookBackMs, MAX_RECURRING_PAYLOAD_BYTES, slotKey, type RecurringPlan } from '../recurring.js';
import { insertRecurringMessages } from '../sql/insertRecurringMessages.js';
import { purgeMarks } from '../sql/recurringPurges.js';
import { describeError } from '../errors.js';

export interface RecurringRunResult {
  /** Messages stored by this run (slots no other run had enqueued). */
  enqueued: number;
  /** Due slots another run (or an earlier one) had already enqueued, purged ones included. */
  duplicates: number;
  errors: string[];
}

interface DueMessage {
  plan: RecurringPlan;
  slot: number;
  checked: CheckedMessage;
}

/**
 * Enqueues the due slots of an app's recurring entries. A run with no new slot since the last
 * this process stored makes no call; a run with new slots makes one insert per queue that has
 * any, and reads nothing back (unless the insert held a purged slot: see storeSlots). Never
 * throws: what fails is reported in `errors` and tried again by the next run.
 */
export async function enqueueDueRecurring(app: App, now: Date): Promise<RecurringRunResult> {
  const state = app.recurring;
  const result: RecurringRunResult = { enqueued: 0, duplicates: 0, errors: [] };
  if (state.plans.length === 0) return result;
  const byQueue = new Map<string, DueMessage[]>();
  for (const plan of state.plans) {
    try {
      const queue = app.queues.get(plan.queue);
      if (queue === undefined) throw new Error(`queue "${plan.queue}" is not declared`);
      const stored = state.stored.get(plan.name) ?? Number.NEGATIVE_INFINITY;
      for (const slot of dueSlots(plan, now, lookBackMs(queue))) {
        if (slot.getTime() <= stored) continue;
        const checked = await checkMessage(app, plan.queue, { type: plan.type, payload: plan.payload, dedupKey: slotKey(plan.name, slot) });
        // A config made without defineConfig skips its size check; slices would need their own writes.
        if (checked.message.parts !== undefined)
          throw new Error(`payload is too large for a recurring message (at most ${MAX_RECURRING_PAYLOAD_BYTES} bytes of JSON)`);
        const due = byQueue.get(plan.queue) ?? [];
        due.push({ plan, slot: slot.getTime(), checked });
        byQueue.set(plan.queue, due);
      }
    } catch (error) {
      result.errors.push(`recurring "${plan.name}": ${describeProblem(error)}`);
    }
  }
  await Promise.all(
    [...byQueue].map(async ([queue, due]) => {
      for (const batch of batches(due)) {
        try {
          const { enqueued, duplicates } = await storeSlots(app, queue, batch, now);
          result.enqueued += enqueued;
          result.duplicates += duplicates;
          for (const { plan, slot } of batch) state.stored.set(plan.name, Math.max(slot, state.stored.get(plan.name) ?? slot));
        } catch (error) {
          // The later batches wait too: what this process remembers as stored must have no gap.
          result.errors.push(
            `recurring: enqueue on queue "${queue}" failed (${[...new Set(batch.map((item) => item.plan.name))].join(', ')}): ${describeError(error)}`,
          );
          return;
        }
      }
    }),
  );
  return result;
}

/** How often a batch is sent again after purges removed some of its slots: only a purge landing meanwhile refuses it again. */
const PURGED_RETRIES = 3;

/**
 * Stores a batch in one call, unless it holds a slot whose message was purged (lib/sql/recurringPurges.ts):
 * the insert then stores nothing, and the rest is sent again without the slots the queue's marks
 * cover, which count as duplicates (they were enqueued once). Two calls more, only after a purge.
 */
async function storeSlots(app: App, queue: string, batch: readonly DueMessage[], now: Date): Promise<{ enqueued: number; duplicates: number }> {
  let pending = batch;
  for (let attempt = 0; ; attempt++) {
    const inserted = await insertRecurringMessages(
      app.db,
      pending.map((item) => ({ message: item.checked.message, entry: item.plan.name, slot: new Date(item.slot) })),
      now,
    );
    if (inserted !== undefined) {
      const enqueued = pending.length - inserted.duplicates;
      return { enqueued, duplicates: batch.length - enqueued };
    }
    if (attempt >= PURGED_RETRIES) throw new Error(`slots kept being purged while they were enqueued; tried ${attempt + 1} times`);
    const marks = await purgeMarks(app.db, queue);
    pending = pending.filter((item) => item.slot > (marks.get(item.plan.name)?.getTime() ?? Number.NEGATIVE_INFINITY));
    if (pending.length === 0) return { enqueued: 0, duplicates: batch.length };
  }
}

/** Batches one insert can take: the enqueue's own limits on count and request size. */
function batches(due: readonly DueMessage[]): DueMessage[][] {
  const out: DueMessage[][] = [];
  let current: DueMessage[] = [];
  let bytes = 0;
  for (const item of due) {
    if (current.length > 0 && (current.length >= ENQUEUE_LIMITS.maxBatchSize || bytes + item.checked.requestBytes > ENQUEUE_LIMITS.maxRequestBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += item.checked.requestBytes;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A refused message names every field at fault, as the config check would have. */
function describeProblem(error: unknown): string {
  if (error instanceof ValidationError) return error.issues.map((issue) => `${issue.field ? `${issue.field}: ` : ''}${issue.message}`).join('; ');
  return describeError(error);
}
