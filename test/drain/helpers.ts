/** Shared by the drain tests: an App on the real stack, seeding, and reading the final table. */
import * as z from 'zod';
import { createApp, type App } from '../../lib/app.js';
import { defineConfig } from '../../lib/config.js';
import type { Clock } from '../../lib/clock.js';
import { defineJobType, type JobContext, type JobType, type SingleJobType } from '../../lib/jobs/types.js';
import { groupLimitsOf, type QueueDeclaration } from '../../lib/queues.js';
import { LEASE_SET } from '../../lib/sql/claimBatch.js';
import { withFairRounds } from '../../lib/sql/fairRounds.js';
import { uuidv7 } from '../../lib/ids.js';
import { insertMessages, type NewMessage } from '../../lib/sql/insertMessages.js';
import type { Stack } from '../support/stack.js';

export function appOn(stack: Stack, options: { queues: QueueDeclaration[]; jobTypes: JobType<any>[]; clock: Clock }): App {
  return createApp({ db: stack.newDb(), env: {}, config: defineConfig({ queues: options.queues, jobTypes: options.jobTypes }), clock: options.clock });
}

export const anyPayload = z.unknown();

/** A job type whose handler is the given function. */
export function jobType(
  type: string,
  handle: (payload: unknown, context: JobContext) => Promise<void>,
  extra: Partial<Omit<SingleJobType, 'type' | 'handle' | 'payload'>> = {},
): JobType {
  return defineJobType({ type, payload: anyPayload, handle, ...extra });
}

export interface Seed {
  queue: string;
  type: string;
  payload?: unknown;
  priority?: number;
  maxAttempts?: number;
  availableAt?: Date;
  groupKey?: string;
}

/** Inserts messages through the product's own insert; returns their ids in order. */
export async function seed(app: App, messages: readonly Seed[], chunk = 1_000): Promise<string[]> {
  const now = app.clock.now();
  const rows: NewMessage[] = messages.map((m) => ({
    id: uuidv7(),
    queue: m.queue,
    type: m.type,
    payloadJson: JSON.stringify(m.payload ?? {}),
    priority: m.priority ?? 0,
    maxAttempts: m.maxAttempts ?? 3,
    availableAt: m.availableAt ?? now,
    dedupKey: null,
    groupKey: m.groupKey ?? null,
  }));
  for (let i = 0; i < rows.length; i += chunk) await insertMessages(app.db, await withTurns(app, rows.slice(i, i + chunk), now), now);
  return rows.map((row) => row.id);
}

/** A fair queue's messages with their turns, as enqueue gives them (lib/sql/fairRounds.ts withFairRounds). */
async function withTurns(app: App, rows: NewMessage[], now: Date): Promise<NewMessage[]> {
  const out = [...rows];
  for (const queue of new Set(rows.map((row) => row.queue))) {
    const config = app.queues.get(queue);
    if (config === undefined || groupLimitsOf(config)?.fair !== true) continue;
    const at = rows.flatMap((row, index) => (row.queue === queue ? [index] : []));
    const rounded = await withFairRounds(
      app.db,
      queue,
      at.map((index) => rows[index]!),
      now,
    );
    for (const [k, index] of at.entries()) out[index] = rounded[k]!;
  }
  return out;
}

export interface Row {
  id: string;
  status: string;
  attempts: number;
  available_at: Date;
  last_error: string | null;
  lease_token: string | null;
  finished_at: Date | null;
}

export async function readRows(stack: Stack, queue?: string): Promise<Map<string, Row>> {
  const [rows] = await stack.sql.query(
    `SELECT id, status, attempts, available_at, last_error, lease_token, finished_at FROM queue_messages
     ${queue === undefined ? '' : 'WHERE queue = ?'} ORDER BY id`,
    queue === undefined ? [] : [queue],
  );
  return new Map((rows as Row[]).map((row) => [row.id, row]));
}

export async function statusCounts(stack: Stack): Promise<Record<string, number>> {
  const [rows] = await stack.sql.query('SELECT status, COUNT(*) AS n FROM queue_messages GROUP BY status ORDER BY status');
  return Object.fromEntries((rows as { status: string; n: number }[]).map((row) => [row.status, Number(row.n)]));
}

/** A sleep that moves a ManualClock instead of waiting. */
export function clockSleep(clock: { advance(ms: number): Date }): (ms: number) => Promise<void> {
  return async (ms) => {
    clock.advance(ms);
  };
}

export const plenty = () => 600_000;

/** Text every claim statement has (the lease its SET writes): a fault injected with it hits claims only. */
export const CLAIM_STATEMENT_TEXT = LEASE_SET.split('\n')[0]!;
