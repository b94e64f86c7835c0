/**
 * `aurora-queue doctor --full`: every kind of statement the product runs, run through the product's
 * own code on scratch queues that no config declares (`doctor-<random>-<check>`), each answer
 * checked. Drains, stats and retention only ever look at declared queues, so nothing else sees the
 * scratch rows, and they are deleted at the end from every table, also after a failure. The DDL
 * probes run on a scratch table of their own, dropped at the end.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as z from 'zod';
import { ENQUEUE_LIMITS } from '../schema/messages.js';
import { createApp, type App } from './app.js';
import { defineConfig } from './config.js';
import { DoctorChecks, failureDetail, type CheckOutcome } from './doctorChecks.js';
import { claimMessages, type HeldClaimedMessage } from './drain/claim.js';
import { deleteExpiredMessages } from './drain/retention.js';
import { markDoneWithResults } from './drain/settle.js';
import { enqueue, type EnqueuedMessage } from './enqueue.js';
import { defineJobType } from './jobs/types.js';
import { getMessageStatus } from './messages.js';
import { DEFAULT_LOCK_WAIT_SECONDS, alreadyDoneReason, findRunningStatement } from './migrate.js';
import { listDeadLetters, purgeDeadLetters, redrive } from './operations.js';
import type { QueueConfig } from './queues.js';
import { sleep } from './sleep.js';
import { cancelHeld } from './sql/cancelHeld.js';
import { extendHeldLeases } from './sql/extendHeldLeases.js';
import { markHeldDone } from './sql/markHeldDone.js';
import { readCancelRequests } from './sql/readCancelRequests.js';
import { readHeldLeases } from './sql/readHeldLeases.js';
import { requestCancel } from './sql/requestCancel.js';
import { deadLetterHeld } from './sql/deadLetterHeld.js';
import {
  SCRATCH_TABLES,
  countQueueMessages,
  countScratchRows,
  deleteScratchRows,
  probeTableExists,
  runDdlProbe,
  runSlowStatement,
  slowProbeStatement,
  runningStatementsWith,
  type DdlProbe,
} from './sql/doctor.js';
import { readWakeState } from './sql/drainActivity.js';
import { findByDedupKeys } from './sql/findByDedupKeys.js';
import { permitsInUse, ratePermits, releaseRunPermits, type PermitLimits } from './sql/permits.js';
import { listPausedQueues, setQueuePaused } from './sql/queueState.js';
import { storeHeldProgress } from './sql/storeHeldProgress.js';
import { storeHeldResults } from './sql/storeHeldResults.js';
import { Waker } from './wake.js';

/** The scratch queues, one per check, so that no check claims another's messages. */
const SCRATCH_QUEUES = ['dedup', 'claims', 'fifo', 'permits', 'beats', 'payload', 'dead', 'retention', 'outputs', 'wake'] as const;
type ScratchQueue = (typeof SCRATCH_QUEUES)[number];

const PROBE_TYPE = 'doctor.probe';
const LEASE_MS = 60_000;

interface Scratch {
  /** The run's random part: `doctor-<marker>-<check>`, `doctor_probe_<marker>`. */
  marker: string;
  queues: Record<ScratchQueue, string>;
  /** Every queue name doctor may have written rows for. */
  names: string[];
  table: string;
  /** An App on the same database that declares the scratch queues and wakes no drain. */
  app: App;
  /** Ids of messages doctor enqueued, for counting payload slices left after their messages. */
  messageIds: Set<string>;
}

export async function runFullChecks(app: App, run: DoctorChecks): Promise<void> {
  const scratch = scratchFor(app);
  const check = run.run.bind(run);
  await check('scratch queues', async () => ({
    result: 'info',
    detail: `doctor-${scratch.marker}-{${SCRATCH_QUEUES.join(',')}} and table ${scratch.table}; declared by no config, deleted at the end`,
  }));
  try {
    await check('batch enqueue with a racing dedup key', () => racingDedupKey(scratch));
    await check('two claims at once', () => twoClaimsAtOnce(scratch));
    await check('FIFO heads and followers', () => fifoHeadsAndFollowers(scratch));
    await check('permits taken and freed', () => permitsTakenAndFreed(scratch));
    await check('heartbeat and cancel of a running message', () => heartbeatAndCancel(scratch));
    await check('1 MiB payload round trip', () => bigPayloadRoundTrip(scratch));
    await check('redrive and purge', () => redriveAndPurge(scratch));
    await check('retention delete', () => retentionDelete(scratch));
    await check('result and progress', () => resultAndProgress(scratch));
    await check('wake row', () => wakeRow(scratch));
    await migrationErrorChecks(scratch, run);
    await check('process list shows the SQL as sent', () => processListMatch(scratch));
  } finally {
    await check('scratch rows removed', () => removeScratch(scratch));
  }
}

function scratchFor(app: App): Scratch {
  const marker = randomBytes(6).toString('hex');
  const queues = Object.fromEntries(SCRATCH_QUEUES.map((name) => [name, `doctor-${marker}-${name}`])) as Record<ScratchQueue, string>;
  const declared = SCRATCH_QUEUES.map((name) => queues[name]).filter((queue) => app.queues.has(queue));
  if (declared.length > 0) throw new Error(`the config declares ${declared.join(', ')}: doctor's scratch queues must be undeclared`);
  const probe = defineJobType({ type: PROBE_TYPE, payload: z.unknown(), handle: async () => {} });
  const config = defineConfig({
    queues: [
      { name: queues.dedup },
      { name: queues.claims },
      { name: queues.fifo, fifo: true },
      { name: queues.permits, concurrency: 2, ratePerSecond: 3 },
      { name: queues.beats },
      { name: queues.payload },
      { name: queues.dead },
      { name: queues.retention, retentionSeconds: 1 },
      { name: queues.outputs },
      { name: queues.wake },
    ],
    jobTypes: [probe],
  });
  // No drain function in this environment: the scratch app's enqueues wake nothing.
  const scratchApp = createApp({ config, db: app.db, clock: app.clock, env: {} });
  return { marker, queues, names: Object.values(queues), table: `doctor_probe_${marker}`, app: scratchApp, messageIds: new Set() };
}

async function enqueueProbes(
  scratch: Scratch,
  queue: string,
  messages: readonly { payload: unknown; dedupKey?: string; groupKey?: string }[],
): Promise<EnqueuedMessage[]> {
  const answers = await enqueue(
    scratch.app,
    queue,
    messages.map((message) => ({ type: PROBE_TYPE, ...message })),
  );
  for (const answer of answers) scratch.messageIds.add(answer.id);
  return answers;
}

function claim(scratch: Scratch, queue: string, input: { limit: number; now?: Date; fifo?: boolean; permits?: PermitLimits }) {
  return claimMessages(scratch.app.db, {
    queue,
    limit: input.limit,
    now: input.now ?? scratch.app.clock.now(),
    leaseMs: LEASE_MS,
    fifo: input.fifo,
    permits: input.permits,
  });
}

const held = (messages: readonly HeldClaimedMessage[]) => messages.map((m) => ({ id: m.id, leaseToken: m.leaseToken, attempts: m.attempts }));

const outcome = (ok: boolean, detail: string): CheckOutcome => ({ result: ok ? 'pass' : 'fail', detail });

/** Two batches at once share a dedup key: the unique key stores it once, and both answers name that one. */
async function racingDedupKey(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.dedup;
  const key = `race-${scratch.marker}`;
  const [first, second] = await Promise.all([
    enqueueProbes(scratch, queue, [{ payload: { n: 'first only' } }, { payload: { n: 'first' }, dedupKey: key }]),
    enqueueProbes(scratch, queue, [{ payload: { n: 'second' }, dedupKey: key }, { payload: { n: 'second only' } }]),
  ]);
  const a = first[1]!;
  const b = second[0]!;
  const stored = await countQueueMessages(scratch.app.db, { queue, dedupKey: key });
  const found = (await findByDedupKeys(scratch.app.db, queue, [key])).get(key);
  const problems = [
    a.id !== b.id ? `the two enqueues were answered different ids (${a.id}, ${b.id})` : undefined,
    [a, b].filter((answer) => !answer.duplicate).length !== 1 ? `duplicate flags ${a.duplicate}/${b.duplicate}, expected exactly one false` : undefined,
    stored.keyed !== 1 ? `${stored.keyed} rows hold the key` : undefined,
    stored.stored !== 3 ? `${stored.stored} messages stored, expected 3` : undefined,
    found !== a.id ? `the key's stored message is ${found ?? 'none'}, not the answered ${a.id}` : undefined,
  ].filter((problem) => problem !== undefined);
  return outcome(
    problems.length === 0,
    problems.length > 0
      ? problems.join('; ')
      : `two batches of 2 at once, one key in both: 3 messages stored, the key once; both answered ${a.id}, the ${a.duplicate ? 'first' : 'second'} as a duplicate`,
  );
}

/** Two claims at once take disjoint messages (FOR UPDATE SKIP LOCKED in index order). */
async function twoClaimsAtOnce(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.claims;
  const enqueued = await enqueueProbes(
    scratch,
    queue,
    Array.from({ length: 10 }, (_, n) => ({ payload: { n } })),
  );
  const now = scratch.app.clock.now();
  const [x, y] = await Promise.all([claim(scratch, queue, { limit: 6, now }), claim(scratch, queue, { limit: 6, now })]);
  const xs = x.messages.map((m) => m.id);
  const ys = new Set(y.messages.map((m) => m.id));
  const twice = xs.filter((id) => ys.has(id));
  const ours = new Set(enqueued.map((m) => m.id));
  const strangers = [...xs, ...ys].filter((id) => !ours.has(id));
  const taken = x.claimed + y.claimed;
  const problems = [
    twice.length > 0 ? `${twice.length} message(s) taken by both claims` : undefined,
    x.claimed !== xs.length || y.claimed !== ys.size ? `claimed ${x.claimed} and ${y.claimed} but read back ${xs.length} and ${ys.size}` : undefined,
    strangers.length > 0 ? `read back ${strangers.length} message(s) not enqueued here` : undefined,
    taken > 10 ? `${taken} leased of 10` : undefined,
  ].filter((problem) => problem !== undefined);
  return outcome(
    problems.length === 0,
    problems.length > 0
      ? problems.join('; ')
      : `10 due, two claims of up to 6 at once took ${x.claimed} and ${y.claimed}, none twice${taken < 10 ? ` (${10 - taken} left for a later claim)` : ''}`,
  );
}

/**
 * Group g1 holds three messages, g2 one. Two FIFO claims at once, one head each: they take
 * different groups, g1's head with its follower; nothing more while both groups are in flight;
 * once g1's two are done, its third leads.
 */
async function fifoHeadsAndFollowers(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.fifo;
  const [m1, m2, m3, m4] = (
    await enqueueProbes(scratch, queue, [
      { payload: { n: 1 }, groupKey: 'g1' },
      { payload: { n: 2 }, groupKey: 'g1' },
      { payload: { n: 3 }, groupKey: 'g1' },
      { payload: { n: 4 }, groupKey: 'g2' },
    ])
  ).map((answer) => answer.id);
  const now = scratch.app.clock.now();
  const [x, y] = await Promise.all([claim(scratch, queue, { limit: 1, now, fifo: true }), claim(scratch, queue, { limit: 1, now, fifo: true })]);
  const ids = (messages: readonly HeldClaimedMessage[]) => messages.map((m) => m.id).sort();
  const sets = [ids(x.messages), ids(y.messages)].map((list) => list.join(','));
  const expected = [[m1!, m2!].sort().join(','), m4!];
  const problems: string[] = [];
  if (!(sets.includes(expected[0]!) && sets.includes(expected[1]!))) {
    problems.push(`the two claims took [${sets.map((set) => set || 'nothing').join('] and [')}], expected g1's head with its follower and g2's head`);
  }
  const inFlight = await claim(scratch, queue, { limit: 10, now, fifo: true });
  if (inFlight.claimed !== 0) problems.push(`a claim while both groups were in flight took ${inFlight.claimed}`);
  const acked = await markHeldDone(scratch.app.db, { held: held([...x.messages, ...y.messages]), now });
  if (acked !== 3) problems.push(`ack of the 3 claimed counted ${acked}`);
  const next = await claim(scratch, queue, { limit: 10, now: scratch.app.clock.now(), fifo: true });
  const nextIds = next.messages.map((m) => m.id);
  if (nextIds.join(',') !== m3) problems.push(`after g1's first two were done the claim took [${nextIds.join(',')}], expected only g1's third`);
  return outcome(
    problems.length === 0,
    problems.length > 0
      ? problems.join('; ')
      : "g1 of 3 and g2 of 1: two claims at once took g1's head with its follower and g2's head; none while both groups were in flight; g1's third led once its first two were done",
  );
}

/**
 * A heartbeat extends two held leases in one statement and matches none under a stale token, which
 * readHeldLeases then names as gone; a running message's cancel is recorded under its lease, found
 * by the read a drain polls with, and settled cancelled.
 */
async function heartbeatAndCancel(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.beats;
  const { db } = scratch.app;
  await enqueueProbes(scratch, queue, [{ payload: { n: 1 } }, { payload: { n: 2 } }]);
  const now = scratch.app.clock.now();
  const claimed = await claim(scratch, queue, { limit: 2, now });
  const [a, b] = claimed.messages;
  if (a === undefined || b === undefined) return outcome(false, `the claim took ${claimed.messages.length} of 2 messages`);
  const problems: string[] = [];
  const stale = { id: b.id, leaseToken: randomUUID() };
  const extended = await extendHeldLeases(db, { held: [a, b], leaseUntil: new Date(now.getTime() + 2 * LEASE_MS) });
  if (extended !== 2) problems.push(`the heartbeat of 2 held leases matched ${extended}`);
  const extendedStale = await extendHeldLeases(db, { held: [stale], leaseUntil: new Date(now.getTime() + 2 * LEASE_MS) });
  if (extendedStale !== 0) problems.push(`a heartbeat under a stale lease matched ${extendedStale}`);
  const still = await readHeldLeases(db, [a, stale]);
  if (!still.has(a.id) || still.has(b.id)) problems.push(`readHeldLeases named [${[...still].join(',')}] as held, expected only ${a.id}`);
  if (!(await requestCancel(db, a.id, now))) problems.push('the cancel of a running message was not recorded');
  const requested = await readCancelRequests(db, held([a, b]));
  if ([...requested].join(',') !== a.id) problems.push(`the cancel requests read [${[...requested].join(',')}], expected ${a.id}`);
  const cancelled = await cancelHeld(db, { held: held([a]), now });
  if (cancelled !== 1) problems.push(`cancelHeld counted ${cancelled} of 1`);
  const acked = await markHeldDone(db, { held: held([b]), now });
  if (acked !== 1) problems.push(`the ack counted ${acked} of 1`);
  const status = (await getMessageStatus(scratch.app, a.id)).status;
  if (status !== 'cancelled') problems.push(`the cancelled message is ${status}`);
  return outcome(
    problems.length === 0,
    problems.length > 0
      ? problems.join('; ')
      : 'a heartbeat extended 2 held leases and none under a stale token; a running message’s cancel was recorded, read under its lease and settled cancelled',
  );
}

/** Concurrency 2 and a rate of 3/s: permits bound a claim, run permits come back, rate permits stay their window. */
async function permitsTakenAndFreed(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.permits;
  const { db } = scratch.app;
  const limits: PermitLimits = { run: { slots: 2 }, rate: ratePermits(3) };
  await enqueueProbes(
    scratch,
    queue,
    Array.from({ length: 4 }, (_, n) => ({ payload: { n } })),
  );
  // One `now` throughout: the permits' windows are compared with it, so call latency cannot free a rate permit early.
  const now = scratch.app.clock.now();
  const first = await claim(scratch, queue, { limit: 4, now, permits: limits });
  const inUse = async () => (await permitsInUse(db, { queues: [queue], now })).get(queue)!;
  const taken = await inUse();
  const freed = await releaseRunPermits(db, { queue, leaseToken: first.leaseToken, keep: 0, now });
  const afterRelease = await inUse();
  const second = await claim(scratch, queue, { limit: 4, now, permits: limits });
  const problems = [
    first.permitted !== 2 || first.claimed !== 2 ? `a claim of 4 got ${first.permitted} permits and took ${first.claimed}, expected 2 and 2` : undefined,
    taken.run !== 2 || taken.rate !== 2 ? `in use after it: ${taken.run} run, ${taken.rate} rate, expected 2 and 2` : undefined,
    freed !== 2 ? `freeing its run permits freed ${freed}, expected 2` : undefined,
    afterRelease.run !== 0 || afterRelease.rate !== 2
      ? `in use after the release: ${afterRelease.run} run, ${afterRelease.rate} rate, expected 0 and 2`
      : undefined,
    second.permitted !== 1 || second.claimed !== 1
      ? `the next claim got ${second.permitted} permits and took ${second.claimed}, expected 1 and 1 (the rate permit left)`
      : undefined,
  ].filter((problem) => problem !== undefined);
  return outcome(
    problems.length === 0,
    problems.length > 0
      ? problems.join('; ')
      : 'concurrency 2, rate 3/s: a claim of 4 got 2 permits of each kind and took 2; its run permits came back (2 freed), its rate permits stayed their window; the next claim got the one rate permit left and took 1',
  );
}

/**
 * A payload's JSON text exactly at the 1 MiB limit, of the text that grows most when escaped:
 * two-byte letters (six bytes each as `\uXXXX`), quotes and backslashes (escaped twice: in the
 * JSON text, then in the response), three- and four-byte characters.
 */
export function bigPayload(bytes: number = ENQUEUE_LIMITS.maxPayloadBytes): { text: string } {
  const unit = 'é"ü\\ß\'日本😀 "quoted" éèà, {key: [1]}\n\t';
  const jsonBytes = (text: string) => Buffer.byteLength(JSON.stringify({ text }), 'utf8');
  const unitBytes = jsonBytes(unit) - jsonBytes('');
  let text = unit.repeat(Math.floor((bytes - jsonBytes('')) / unitBytes));
  text += 'x'.repeat(bytes - jsonBytes(text));
  return { text };
}

/** Enqueued through lib/enqueue.ts (sliced), claimed, and read back equal. */
async function bigPayloadRoundTrip(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.payload;
  const payload = bigPayload();
  const size = Buffer.byteLength(JSON.stringify(payload), 'utf8');
  const [answer] = await enqueueProbes(scratch, queue, [{ payload }]);
  const callsBefore = scratch.app.db.stats.calls;
  const claimed = await claim(scratch, queue, { limit: 1 });
  const calls = scratch.app.db.stats.calls - callsBefore;
  const got = claimed.messages[0];
  if (got === undefined || got.id !== answer!.id) return outcome(false, `the claim read back ${got?.id ?? 'nothing'}, expected ${answer!.id}`);
  const equal = JSON.stringify(got.payload) === JSON.stringify(payload);
  return outcome(
    equal && got.payloadParts > 0,
    !equal
      ? `read back ${Buffer.byteLength(JSON.stringify(got.payload) ?? '', 'utf8')} bytes that differ from the ${size} sent`
      : got.payloadParts === 0
        ? 'read back equal, but kept in its row instead of in slices'
        : `${size.toLocaleString('en-US')} bytes of JSON text (two-, three- and four-byte characters, quotes, backslashes) in ${got.payloadParts} slices; claimed and read back equal in ${calls} calls`,
  );
}

/** Three dead letters: listed, one redriven (waiting again, attempts 0), the other two purged. */
async function redriveAndPurge(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.dead;
  const { app } = scratch;
  await enqueueProbes(
    scratch,
    queue,
    Array.from({ length: 3 }, (_, n) => ({ payload: { n } })),
  );
  const claimed = await claim(scratch, queue, { limit: 3 });
  const error = 'doctor: a dead letter\'s "quoted" error, é';
  const dead = await deadLetterHeld(app.db, { dead: claimed.messages.map((m) => ({ id: m.id, leaseToken: m.leaseToken, error })), now: app.clock.now() });
  const listed = await listDeadLetters(app, queue);
  const chosen = listed.messages[0]?.id;
  const redriven = chosen === undefined ? { count: 0 } : await redrive(app, queue, { ids: [chosen] });
  const status = chosen === undefined ? undefined : await getMessageStatus(app, chosen);
  const purged = await purgeDeadLetters(app, queue, { all: true });
  const left = await listDeadLetters(app, queue);
  const problems = [
    claimed.claimed !== 3 || dead !== 3 ? `claimed ${claimed.claimed} and dead-lettered ${dead}, expected 3 and 3` : undefined,
    listed.messages.length !== 3 ? `listed ${listed.messages.length} dead letters, expected 3` : undefined,
    listed.messages.some((m) => m.lastError !== error) ? 'a listed dead letter lost its error text' : undefined,
    redriven.count !== 1 || status?.status !== 'waiting' || status.attempts !== 0
      ? `redrive counted ${redriven.count}, the message is ${status?.status} with ${status?.attempts} attempts`
      : undefined,
    purged.count !== 2 ? `purge counted ${purged.count}, expected 2` : undefined,
    left.messages.length !== 0 ? `${left.messages.length} dead letters left` : undefined,
  ].filter((problem) => problem !== undefined);
  return outcome(
    problems.length === 0,
    problems.length > 0 ? problems.join('; ') : '3 dead letters listed with their errors; 1 redriven (waiting, attempts 0); 2 purged; none left',
  );
}

/** Two done messages past their retention go; the dead letter stays (no dead-letter retention set). */
async function retentionDelete(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.retention;
  const { app } = scratch;
  await enqueueProbes(
    scratch,
    queue,
    Array.from({ length: 3 }, (_, n) => ({ payload: { n } })),
  );
  const now = app.clock.now();
  const claimed = await claim(scratch, queue, { limit: 3, now });
  const [deadOne, ...done] = claimed.messages;
  await markHeldDone(app.db, { held: held(done), now });
  if (deadOne !== undefined) await deadLetterHeld(app.db, { dead: [{ id: deadOne.id, leaseToken: deadOne.leaseToken, error: 'doctor' }], now });
  const config = app.queues.get(queue) as QueueConfig;
  const later = new Date(now.getTime() + (config.retentionSeconds + 1) * 1_000);
  const deleted = await deleteExpiredMessages(app.db, config, { now: later, batchSize: 100, maxCalls: 2, hasTime: () => true });
  const { stored } = await countQueueMessages(app.db, { queue, dedupKey: '' });
  return outcome(
    claimed.claimed === 3 && deleted === 2 && stored === 1,
    `of 2 done messages and 1 dead letter past a ${config.retentionSeconds} s retention, ${deleted} deleted, ${stored} kept${deleted === 2 && stored === 1 ? ' (dead letters go only with deadRetentionSeconds)' : ', expected 2 and 1'}`,
  );
}

/**
 * A claimed message's progress and result (queue_message_outputs, upserts whose SELECT joins the
 * message under its lease), read back with the message: a stale lease writes neither, the held
 * one both, and the message shows them once done.
 */
async function resultAndProgress(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.outputs;
  const { app } = scratch;
  await enqueueProbes(scratch, queue, [{ payload: { n: 1 } }]);
  const now = app.clock.now();
  const [message] = (await claim(scratch, queue, { limit: 1, now })).messages;
  if (message === undefined) return outcome(false, 'the claim took nothing');
  const stale = { id: message.id, leaseToken: `doctor-stale-${scratch.marker}` };
  const problems = [
    (await storeHeldProgress(app.db, { held: stale, progress: '0', now })) ? 'a progress write under a stale lease matched' : undefined,
    (await storeHeldResults(app.db, { held: [{ ...stale, result: '"stale"' }], now })) !== 0 ? 'a result write under a stale lease matched' : undefined,
    (await storeHeldProgress(app.db, { held: message, progress: '{"doctor":0.5}', now }))
      ? undefined
      : 'the progress write under the held lease matched nothing',
  ];
  const done = await markDoneWithResults(app.db, [{ id: message.id, leaseToken: message.leaseToken, result: '{"doctor":true}' }], now);
  const view = await getMessageStatus(app, message.id);
  problems.push(
    done !== 1 ? `the mark done counted ${done}` : undefined,
    JSON.stringify([view.status, view.result, view.progress]) !== '["done",{"doctor":true},{"doctor":0.5}]'
      ? `read back ${JSON.stringify({ status: view.status, result: view.result, progress: view.progress })}`
      : undefined,
  );
  const found = problems.filter((problem) => problem !== undefined);
  return outcome(
    found.length === 0,
    found.length > 0 ? found.join('; ') : 'a stale lease wrote neither; progress and result written under the held lease, read back with the done message',
  );
}

/**
 * Two processes wake the queue at once: the row's UPDATE lets one through (it counts 1, the other
 * 0), so one drain is invoked; a third wake within the interval invokes none. Pause and resume
 * write the same row.
 */
async function wakeRow(scratch: Scratch): Promise<CheckOutcome> {
  const queue = scratch.queues.wake;
  const { db, clock } = scratch.app;
  let invoked = 0;
  const waker = () => new Waker({ db, clock, queues: [queue], invoke: async () => void invoked++ });
  const results = (await Promise.all([waker().wake(queue), waker().wake(queue)])).sort();
  const state = await readWakeState(db, queue);
  const third = await waker().wake(queue);
  await setQueuePaused(db, queue, true, clock.now());
  const paused = (await listPausedQueues(db)).has(queue);
  await setQueuePaused(db, queue, false, clock.now());
  const resumed = !(await listPausedQueues(db)).has(queue);
  const problems = [
    results.join(',') !== 'drain-active,woken' || invoked !== 1
      ? `two wakes at once answered ${results.join(' and ')} and invoked ${invoked} drain(s), expected one woken, one invoke`
      : undefined,
    state?.wokenAt === null || state?.wokenAt === undefined ? 'the row holds no woken_at after the wake' : undefined,
    third !== 'drain-active' || invoked !== 1 ? `a third wake within the interval answered ${third}` : undefined,
    !paused || !resumed ? `pause read back ${paused}, resume ${resumed}` : undefined,
  ].filter((problem) => problem !== undefined);
  return outcome(
    problems.length === 0,
    problems.length > 0
      ? problems.join('; ')
      : 'two wakes at once: one invoked a drain, the other found the wake taken; a third within the interval invoked none; pause and resume read back',
  );
}

/**
 * Each "already done" error the migration runner must recognise, provoked on the scratch table by
 * running a statement a second time (1091 once: a key never made), classified by the runner's own
 * alreadyDoneReason.
 */
async function migrationErrorChecks(scratch: Scratch, run: DoctorChecks): Promise<void> {
  const provoke = (code: number, first: DdlProbe | undefined, again: DdlProbe) => async (): Promise<CheckOutcome> => {
    if (first !== undefined) await ddl(scratch, first);
    try {
      await ddl(scratch, again);
    } catch (error) {
      const reason = alreadyDoneReason(error);
      const seen = (error as { mysqlCode?: number }).mysqlCode;
      if (reason === undefined)
        return outcome(false, `not recognised as already done: ${failureDetail(error)}; a migration re-run after its call timed out would fail here`);
      return outcome(true, `${reason}${seen === code ? '' : ` (the error carried ${seen === undefined ? 'no code' : `code ${seen}`})`}`);
    }
    return outcome(false, `the statement ran a second time without error (expected MySQL ${code})`);
  };
  await run.run('migration error 1050 (table exists)', provoke(1050, 'createTable', 'createTable'));
  await run.run('migration error 1060 (column exists)', provoke(1060, 'addColumn', 'addColumn'));
  await run.run('migration error 1061 (key exists)', provoke(1061, 'addKey', 'addKey'));
  await run.run('migration error 1091 (key dropped already)', provoke(1091, undefined, 'dropMissingKey'));
}

/** A DDL probe on the scratch table, sent as the migration runner sends its statements. */
function ddl(scratch: Scratch, probe: DdlProbe): Promise<void> {
  return runDdlProbe(scratch.app.db, {
    probe,
    table: scratch.table,
    marker: `/* aurora-queue doctor ${scratch.marker} */`,
    lockWaitSeconds: DEFAULT_LOCK_WAIT_SECONDS,
  });
}

/** How long the slow statement runs, and how often the process list is read meanwhile. */
const SLOW_SECONDS = 2;
const POLL_MS = 100;

/**
 * A slow statement sent as the migration runner sends one (its marker comment first, a comment
 * inside, several lines), while another call reads the process list: the runner's lookup
 * (findRunningStatement) must find it, or a DDL that outlasts its call is sent again while it runs.
 */
async function processListMatch(scratch: Scratch): Promise<CheckOutcome> {
  const { db } = scratch.app;
  const marker = `/* aurora-queue doctor ${scratch.marker} */`;
  const statement = slowProbeStatement(scratch.table, SLOW_SECONDS);
  const sent = `${marker}\n${statement}`;
  let finished = false;
  const slow = runSlowStatement(db, sent).finally(() => (finished = true));
  slow.catch(() => {});
  const started = Date.now();
  let seen: string[] = [];
  let found = false;
  while (!finished && !found && Date.now() - started < SLOW_SECONDS * 1_000) {
    await sleep(POLL_MS);
    const infos = await runningStatementsWith(db, scratch.table);
    if (infos.length > 0) seen = infos;
    found = infos.length > 0 && (await findRunningStatement(db, statement, marker)) !== undefined;
  }
  await slow;
  const after = Date.now() - started;
  const info = seen[0];
  if (info === undefined) {
    return outcome(
      false,
      `not seen in information_schema.PROCESSLIST in ${after} ms of a ${SLOW_SECONDS} s statement: the migration runner could not wait for a DDL statement that outlasted its call`,
    );
  }
  if (!found)
    return outcome(
      false,
      `INFO was ${JSON.stringify(info)}; sent ${JSON.stringify(sent)}: the migration runner's lookup does not recognise it, so a DDL that outlasted its call would be sent again while it runs`,
    );
  return outcome(
    true,
    info === sent
      ? "INFO equals the SQL as sent, comments and line breaks included; the migration runner's lookup finds it"
      : `INFO differs from the SQL as sent (${JSON.stringify(info)}), and the migration runner's lookup still finds it (${info.includes(marker) ? 'by its marker' : 'by its text without comments and whitespace'})`,
  );
}

/** Deletes every row of the scratch queues and drops the probe table, then counts what is left. */
async function removeScratch(scratch: Scratch): Promise<CheckOutcome> {
  const { db } = scratch.app;
  const errors: string[] = [];
  await ddl(scratch, 'dropTable').catch((error: unknown) => errors.push(`dropping ${scratch.table}: ${failureDetail(error)}`));
  const removal = await deleteScratchRows(db, scratch.names);
  errors.push(...removal.errors);
  const remaining: string[] = [];
  let counted = false;
  try {
    const left = await countScratchRows(db, { queues: scratch.names, messageIds: [...scratch.messageIds] });
    remaining.push(...SCRATCH_TABLES.filter((table) => left[table] > 0).map((table) => `${left[table]} in ${table}`));
    if (await probeTableExists(db, scratch.table)) remaining.push(`table ${scratch.table}`);
    counted = true;
  } catch (error) {
    errors.push(`counting what is left: ${failureDetail(error)}`);
  }
  const deleted = SCRATCH_TABLES.reduce((sum, table) => sum + (removal.deleted[table] ?? 0), 0);
  // An error matters only if something is left: a failed DROP of a table an earlier failure never made is no loss.
  if (counted && remaining.length === 0) {
    return outcome(
      true,
      `${deleted} rows deleted from ${SCRATCH_TABLES.length} tables, no probe table: nothing left${errors.length > 0 ? ` (errors on the way: ${errors.join('; ')})` : ''}`,
    );
  }
  return outcome(
    false,
    `left behind: ${counted ? remaining.join(', ') : 'unknown'}${errors.length > 0 ? `; errors: ${errors.join('; ')}` : ''}; delete the rows of queues doctor-${scratch.marker}-* from ${SCRATCH_TABLES.join(', ')} and DROP TABLE IF EXISTS ${scratch.table}`,
  );
}
