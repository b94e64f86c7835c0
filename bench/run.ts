/**
 * `npm run bench`: throughput, Data API calls and cold-start figures of the queue, measured in
 * one run on the local stack (SDK → local Data API server → MariaDB) next to the physical limit
 * (the same SQL straight over mysql2), each the median of several repetitions.
 *
 *   npm run bench                      the full run (about 5–10 minutes on 2 cores)
 *   npm run bench -- --quick           a tenth of the messages, 1 repetition, no bundles, heartbeats at a fifth: for iterating
 *   npm run bench -- --only=drain,raw  some sections: raw, enqueue, drain, semantics, latency, wake, debounce, cancel, heartbeat, claim, groups, delivery, sms, bundles
 *   npm run bench -- --reps=5 --scale=0.5 --finished=200000
 *
 * Prints a markdown table and writes bench/results/latest.json. Not a test: nothing here fails a
 * build, and no timing assertion lives in `npm test`.
 */
import type { QueueDeclaration } from '../lib/queues.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { drain } from '../lib/drain/drain.js';
import { DEFAULT_DRAIN_TUNING } from '../lib/drain/types.js';
import { startLocalDataApi } from '../dev/data-api/server.js';
import { BENCH_QUEUE, benchApp } from './lib/benchApp.js';
import { cpuMeter, findMariadbPid, type CpuSample } from './lib/cpu.js';
import { probeMachine, type MachineProbe } from './lib/machine.js';
import { startReceiverProcess } from './lib/receiverProcess.js';
import { adminClient, startDataApiProcess, type DataApiServer } from './lib/dataApiProcess.js';
import {
  createBenchDatabase,
  dataApiDb,
  DATABASE_URL,
  dropAllBenchDatabases,
  dropBenchDatabase,
  migrateBenchDatabase,
  rawPool,
  resetQueueTables,
} from './lib/database.js';
import { markdownTable, passes, formatNumber, type Row } from './lib/report.js';
import { seedDueMessages } from './lib/seed.js';
import { FULL_SCALE, QUICK_SCALE } from './lib/heartbeatApp.js';
import { figure, type Figure } from './lib/stats.js';
import { measureBundles, type BundlesResult } from './scenarios/bundles.js';
import { measureClaimCost, seedHistory, type ClaimCostResult } from './scenarios/claimCost.js';
import {
  analyzeTable,
  groupsRows,
  groupsSizes,
  measureGroupClaimCost,
  measureGroups,
  type GroupClaimCostResult,
  type GroupsRepetition,
} from './scenarios/groups.js';
import { measureDelivery, deliveryRows, type DeliveryRepetition } from './scenarios/delivery.js';
import { measureSmsBulk, PROVIDER_LATENCY_MS, smsBulkRows, type SmsBulkRepetition } from './scenarios/smsBulk.js';
import { pickupLatency, wakeCost, type PickupResult, type WakeCostResult } from './scenarios/wake.js';
import { cancelLatency, type CancelResult } from './scenarios/cancel.js';
import { heartbeatRows, heartbeatScenario, type HeartbeatResult } from './scenarios/heartbeat.js';
import { clientEnqueues, type ClientResult } from './scenarios/client.js';
import { debounceThroughHandler, type DebounceResult } from './scenarios/debounce.js';
import { drainRuns, type DrainRunsResult } from './scenarios/drain.js';
import { enqueueThroughHandler, type EnqueueResult } from './scenarios/enqueue.js';
import { dataApiFloor, plainHttpFloor, type FloorResult } from './scenarios/floor.js';
import { plainDrain, plainInsert } from './scenarios/plain.js';
import { rawDrain, rawEnqueue, type RawResult } from './scenarios/raw.js';

// The SDK's Node-version notice would land in the middle of the report (its documented switch).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** serverless.yml's drainMemorySize, in GB: what a drain run is billed for per second. */
const DRAIN_MEMORY_GB = 0.5;

const SECTIONS = [
  'raw',
  'enqueue',
  'drain',
  'semantics',
  'latency',
  'wake',
  'debounce',
  'cancel',
  'heartbeat',
  'claim',
  'groups',
  'delivery',
  'sms',
  'bundles',
] as const;
type Section = (typeof SECTIONS)[number];

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    reps: { type: 'string' },
    scale: { type: 'string' },
    finished: { type: 'string' },
  },
});
const quick = args.quick === true;
const reps = Number(args.reps ?? (quick ? 1 : 3));
const scale = Number(args.scale ?? (quick ? 0.1 : 1));
const sections = new Set<Section>(args.only === undefined ? (quick ? SECTIONS.filter((s) => s !== 'bundles') : SECTIONS) : (args.only.split(',') as Section[]));
for (const section of sections) if (!SECTIONS.includes(section)) throw new Error(`unknown section ${section}; one of ${SECTIONS.join(', ')}`);

const N = {
  e1: Math.round(5_000 * scale),
  e2: Math.round(20_000 * scale),
  drain: Math.round(20_000 * scale),
  finished: Number(args.finished ?? (quick ? 100_000 : 1_000_000)),
  delivery: Math.round(10_000 * scale),
  sms: Math.round(10_000 * scale),
};
/** The groups section (issue 24): its cost drain runs the drain section's messages. */
const GROUPS = groupsSizes(scale, N.drain);
/** Groups the grouped claim's cost is timed over (with and without the claim section's history). */
const GROUP_CLAIM_GROUPS = 1_000;
const E1_IN_FLIGHT = 16;
/** The heartbeat section runs in real time: issue 25's 90 s handler on a 30 s lease, or a fifth of it with --quick. */
const HEARTBEAT_SCALE = quick ? QUICK_SCALE : FULL_SCALE;
const E2_BATCH = 500;
/** The typed client's default linger (lib/client). */
const CLIENT_LINGER_MS = 5;
const E2_IN_FLIGHT = 1;
const DRAIN_BATCH = 100;
/** FIFO groups in the semantics section: messages dealt round-robin over them. */
const FIFO_GROUPS = 100;
/** Drain runs at once over the FIFO groups: together they must not be slower than one. */
const FIFO_DRAINS = 4;
/**
 * Queue-wide limits far above what the drain reaches, so they cost their permits and bind nothing;
 * 200 handlers per run so that a claim may still take a whole batch of 100.
 */
const NON_BINDING_RATE = { ratePerSecond: 10_000, drainConcurrency: 200 } as const;
const NON_BINDING_CONCURRENCY = { concurrency: 10_000, drainConcurrency: 200 } as const;
const D2_RUNS = 4;
const LATENCY_MS = 20;
/** Webhook deliveries in flight: the plain loops' requests at once and the queue's concurrency (the product default). */
const DELIVERY_IN_FLIGHT = 50;
/** The drainer keeps up to this many claims in flight; the raw baseline runs as many loops. */
const PIPELINED_LOOPS = DEFAULT_DRAIN_TUNING.maxClaimsInFlight;
/**
 * A handler timeout for the no-op type that lets one run hold more than 250 messages: with the
 * default 10 s timeout, 50 handlers at once and a 60 s lease, the time budget caps a lane at
 * 5 waves × 50 = 250 messages held, i.e. 2.5 claims of 100 in flight.
 */
const RAW_SHAPES = [
  { batch: 100, loops: 1 },
  { batch: 500, loops: 1 },
  { batch: 100, loops: PIPELINED_LOOPS },
  { batch: 500, loops: PIPELINED_LOOPS },
] as const;

const log = (line: string) => console.error(line);

interface Measured<T> {
  result: T;
  cpu: CpuSample;
  /** Calls the server counted during the measurement: a cross-check of the client's count. */
  serverCalls: number;
}

interface Repetition {
  raw: Record<string, Measured<RawResult>>;
  rawEnqueue: { e1?: Measured<RawResult>; e2?: Measured<RawResult> };
  /** The best plain SQL for the same work (scenarios/plain.ts): what every ratio is taken to. */
  plain: Record<string, Measured<RawResult>>;
  plainInsert: { e1?: Measured<RawResult>; e2?: Measured<RawResult> };
  floor?: Measured<FloorResult>;
  plainFloor?: Measured<FloorResult>;
  e1?: Measured<EnqueueResult>;
  e2?: Measured<EnqueueResult>;
  d1?: Measured<DrainRunsResult>;
  d1InProcess?: Measured<DrainRunsResult>;
  d2?: Measured<DrainRunsResult>;
  d1Latency?: Measured<DrainRunsResult>;
  /** Semantics: the same drain unordered, over FIFO groups, and with queue-wide limits (not binding). */
  unordered?: Measured<DrainRunsResult>;
  fifo?: Measured<DrainRunsResult>;
  rateLimited?: Measured<DrainRunsResult>;
  concurrencyLimited?: Measured<DrainRunsResult>;
  fifoLimited?: Measured<DrainRunsResult>;
  /** The FIFO drain with FIFO_DRAINS runs at once over the same groups. */
  fifoConcurrent?: Measured<DrainRunsResult>;
  delivery?: DeliveryRepetition;
  sms?: SmsBulkRepetition;
  pickup?: PickupResult;
  /** The same at a trickle of 1 msg/s (issue 23's target). */
  trickle?: PickupResult;
  /** Single enqueues at a steady 100 msg/s: what the drain costs per message at that rate. */
  steady100?: PickupResult;
  /** A safety-net run (scheduled, not woken) over idle queues: its Data API calls and duration. */
  idleRun?: { calls: number; ms: number };
  client?: ClientResult;
  clientPipelined?: ClientResult;
  clientLatency?: ClientResult;
  wakeCost?: WakeCostResult;
  debounce?: DebounceResult;
  /** Running messages cancelled: DELETE answered → handler's signal aborted. */
  cancel?: CancelResult;
  /** A handler 3× the lease: run once under heartbeats, and taken over after its drain is killed. */
  heartbeat?: HeartbeatResult;
  /** Keyed flow control (issue 24): fairness, limits held, cost, overrides on a running drain. */
  groups?: GroupsRepetition;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  log(
    `bench: ${reps} repetition(s), scale ${scale}, sections ${[...sections].join(', ')}; ${cpus().length} CPUs, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  const database = await createBenchDatabase();
  const server = await startDataApiProcess({ databaseUrl: DATABASE_URL });
  const inProcess = sections.has('drain') ? await startLocalDataApi({ port: 0, databaseUrl: DATABASE_URL }) : undefined;
  const inProcessServer = inProcess === undefined ? undefined : adminClient(inProcess.url, process.pid, () => inProcess.close());
  const pool = rawPool(database);
  const receiver = sections.has('delivery') ? await startReceiverProcess() : undefined;
  const stop = async () => {
    await pool.end().catch(() => {});
    await receiver?.close().catch(() => {});
    await server.close().catch(() => {});
    await inProcessServer?.close().catch(() => {});
    await dropAllBenchDatabases();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`bench: ${signal}, cleaning up`);
      void stop().finally(() => process.exit(130));
    });
  }

  try {
    await migrateBenchDatabase(server.url, database);
    const probes: MachineProbe[] = [await probeMachine(pool)];
    log(`machine: ${describeProbe(probes[0]!)}`);
    const pids = { client: process.pid, server: server.pid, mariadb: findMariadbPid() };
    const measure = async <T>(target: DataApiServer, work: () => Promise<T>): Promise<Measured<T>> => {
      const before = await target.stats();
      const meter = cpuMeter(target === server ? pids : { client: process.pid, mariadb: pids.mariadb });
      const result = await work();
      const cpu = meter.stop();
      const after = await target.stats();
      return { result, cpu, serverCalls: after.calls - before.calls };
    };
    const freshQueue = () => resetQueueTables(pool);
    const seedDrain = async () => {
      await freshQueue();
      return seedDueMessages(pool, BENCH_QUEUE, N.drain);
    };

    const repetitions: Repetition[] = [];
    for (let rep = 1; rep <= reps; rep++) {
      const r: Repetition = { raw: {}, rawEnqueue: {}, plain: {}, plainInsert: {} };
      repetitions.push(r);
      if (sections.has('raw')) {
        // The product's SQL and the plain shape alternate, shape by shape, so drift hits both alike.
        for (const { batch, loops } of RAW_SHAPES) {
          const key = `${batch}x${loops}`;
          await seedDrain();
          r.raw[key] = await measure(server, () => rawDrain(pool, BENCH_QUEUE, batch, loops));
          await seedDrain();
          r.plain[key] = await measure(server, () => plainDrain(pool, BENCH_QUEUE, batch, loops));
          log(
            `rep ${rep} claim+read+finish ${batch}×${loops}: product SQL ${formatNumber(r.raw[key].result.perSecond)} msg/s, plain ${formatNumber(r.plain[key].result.perSecond)} msg/s`,
          );
        }
        await freshQueue();
        r.rawEnqueue.e1 = await measure(server, () => rawEnqueue(pool, BENCH_QUEUE, N.e1, 1, E1_IN_FLIGHT));
        await freshQueue();
        r.plainInsert.e1 = await measure(server, () => plainInsert(pool, BENCH_QUEUE, N.e1, 1, E1_IN_FLIGHT));
        await freshQueue();
        r.rawEnqueue.e2 = await measure(server, () => rawEnqueue(pool, BENCH_QUEUE, N.e2, E2_BATCH, E2_IN_FLIGHT));
        await freshQueue();
        r.plainInsert.e2 = await measure(server, () => plainInsert(pool, BENCH_QUEUE, N.e2, E2_BATCH, E2_IN_FLIGHT));
        log(
          `rep ${rep} insert single×${E1_IN_FLIGHT}: product SQL ${formatNumber(r.rawEnqueue.e1.result.perSecond)}, plain ${formatNumber(r.plainInsert.e1.result.perSecond)} msg/s; ` +
            `batch ${E2_BATCH}: product SQL ${formatNumber(r.rawEnqueue.e2.result.perSecond)}, plain ${formatNumber(r.plainInsert.e2.result.perSecond)} msg/s`,
        );
      }
      if (sections.has('enqueue')) {
        const floorDb = dataApiDb(server.url, database);
        await dataApiFloor(floorDb, 4 * E1_IN_FLIGHT, E1_IN_FLIGHT);
        r.floor = await measure(server, () => dataApiFloor(floorDb, N.e1, E1_IN_FLIGHT));
        r.plainFloor = await measure(server, () => plainHttpFloor(server.url, database, N.e1, E1_IN_FLIGHT));
        const e1App = benchApp(dataApiDb(server.url, database));
        await freshQueue();
        await enqueueThroughHandler(e1App, 4 * E1_IN_FLIGHT, 1, E1_IN_FLIGHT); // opens the sockets, loads the code paths
        await freshQueue();
        r.e1 = await measure(server, () => enqueueThroughHandler(e1App, N.e1, 1, E1_IN_FLIGHT));
        const e2App = benchApp(dataApiDb(server.url, database));
        await enqueueThroughHandler(e2App, E2_BATCH, E2_BATCH, 1);
        await freshQueue();
        r.e2 = await measure(server, () => enqueueThroughHandler(e2App, N.e2, E2_BATCH, E2_IN_FLIGHT));
        await freshQueue();
        r.client = await clientEnqueues({ db: dataApiDb(server.url, database), count: N.e2, callers: E1_IN_FLIGHT, lingerMs: CLIENT_LINGER_MS });
        await freshQueue();
        r.clientPipelined = await clientEnqueues({
          db: dataApiDb(server.url, database),
          count: N.e2,
          callers: E1_IN_FLIGHT,
          perCaller: 32,
          lingerMs: CLIENT_LINGER_MS,
        });
        await freshQueue();
        await server.setLatency(LATENCY_MS);
        try {
          r.clientLatency = await clientEnqueues({ db: dataApiDb(server.url, database), count: N.e1, callers: E1_IN_FLIGHT, lingerMs: CLIENT_LINGER_MS });
        } finally {
          await server.setLatency(0);
        }
        log(
          `rep ${rep} client ×${E1_IN_FLIGHT}: ${formatNumber(r.client.perSecond)} msg/s, ${r.client.callsPerMessage.toFixed(3)} calls/msg; +${LATENCY_MS} ms: p50 ${r.clientLatency.latency.median.toFixed(0)} ms per enqueue`,
        );
        log(
          `rep ${rep} Data API SELECT 1 ×${E1_IN_FLIGHT}: ${formatNumber(r.floor.result.perSecond)} calls/s (no SDK: ${formatNumber(r.plainFloor.result.perSecond)}); E1 ${formatNumber(r.e1.result.perSecond)} msg/s; E2 ${formatNumber(r.e2.result.perSecond)} msg/s`,
        );
      }
      if (sections.has('drain')) {
        let ids = await seedDrain();
        r.d1 = await measure(server, () => drainRuns({ newDb: () => dataApiDb(server.url, database), pool, ids, runs: 1 }));
        ids = await seedDrain();
        r.d1InProcess = await measure(inProcessServer!, () => drainRuns({ newDb: () => dataApiDb(inProcessServer!.url, database), pool, ids, runs: 1 }));
        ids = await seedDrain();
        r.d2 = await measure(server, () => drainRuns({ newDb: () => dataApiDb(server.url, database), pool, ids, runs: D2_RUNS }));
        log(
          `rep ${rep} D1 ${formatNumber(r.d1.result.perSecond)} msg/s (${r.d1.result.calls} calls); ` +
            `D1 in-process server ${formatNumber(r.d1InProcess.result.perSecond)} msg/s; ` +
            `D2 ${formatNumber(r.d2.result.perSecond)} msg/s, ${r.d2.result.duplicates} duplicates, ${r.d2.result.missing} missing`,
        );
      }
      if (sections.has('semantics')) {
        const run = async (queue: Partial<QueueDeclaration>, groups: number | undefined, runs = 1) => {
          await freshQueue();
          const ids = await seedDueMessages(pool, BENCH_QUEUE, N.drain, { groups });
          return measure(server, () => drainRuns({ newDb: () => dataApiDb(server.url, database), pool, ids, runs, queue }));
        };
        r.unordered = await run({}, undefined);
        r.fifo = await run({ fifo: true }, FIFO_GROUPS);
        r.rateLimited = await run(NON_BINDING_RATE, undefined);
        r.concurrencyLimited = await run(NON_BINDING_CONCURRENCY, undefined);
        r.fifoLimited = await run({ fifo: true, ...NON_BINDING_RATE, ...NON_BINDING_CONCURRENCY }, FIFO_GROUPS);
        r.fifoConcurrent = await run({ fifo: true }, FIFO_GROUPS, FIFO_DRAINS);
        log(
          `rep ${rep} unordered ${formatNumber(r.unordered.result.perSecond)} msg/s; FIFO ${FIFO_GROUPS} groups ${formatNumber(r.fifo.result.perSecond)} msg/s; ` +
            `queue-wide rate ${formatNumber(r.rateLimited.result.perSecond)} msg/s; queue-wide concurrency ${formatNumber(r.concurrencyLimited.result.perSecond)} msg/s; ` +
            `FIFO with both ${formatNumber(r.fifoLimited.result.perSecond)} msg/s, ${claimCallsPerClaim(r.fifoLimited.result).toFixed(2)} calls per claim; ` +
            `FIFO ${FIFO_DRAINS} drains ${formatNumber(r.fifoConcurrent.result.perSecond)} msg/s`,
        );
      }
      if (sections.has('latency')) {
        const ids = await seedDrain();
        await server.setLatency(LATENCY_MS);
        try {
          r.d1Latency = await measure(server, () => drainRuns({ newDb: () => dataApiDb(server.url, database), pool, ids, runs: 1 }));
        } finally {
          await server.setLatency(0);
        }
        log(`rep ${rep} D1 at +${LATENCY_MS} ms/call: ${formatNumber(r.d1Latency.result.perSecond)} msg/s (${r.d1Latency.result.calls} calls)`);
      }
      if (sections.has('wake')) {
        await freshQueue();
        await server.setLatency(LATENCY_MS);
        try {
          r.pickup = await pickupLatency({ newDb: () => dataApiDb(server.url, database), count: Math.max(20, Math.round(100 * scale)), perSecond: 10 });
          await freshQueue();
          r.trickle = await pickupLatency({ newDb: () => dataApiDb(server.url, database), count: Math.max(10, Math.round(30 * scale)), perSecond: 1 });
          await freshQueue();
          r.steady100 = await pickupLatency({ newDb: () => dataApiDb(server.url, database), count: Math.max(100, Math.round(1_000 * scale)), perSecond: 100 });
        } finally {
          await server.setLatency(0);
        }
        await freshQueue();
        const idle = benchApp(dataApiDb(server.url, database));
        const idleSummary = await drain(idle, { remainingTimeMs: () => 180_000, linger: { idleMs: 2_000, woken: false }, overview: true });
        r.idleRun = { calls: idleSummary.dataApiCalls, ms: idleSummary.durationMs };
        r.wakeCost = await wakeCost({ newDb: () => dataApiDb(server.url, database), pool, perSecond: 2_000, seconds: 5, containers: 8, batch: 10 });
        log(
          `rep ${rep} pickup at 10/s, +${LATENCY_MS} ms/call: p50 ${r.pickup.latency.median.toFixed(0)} ms, p99 ${r.pickup.p99Ms.toFixed(0)} ms (${r.pickup.invokes} runs); ` +
            `at 1/s: p50 ${r.trickle.latency.median.toFixed(0)} ms, p99 ${r.trickle.p99Ms.toFixed(0)} ms (${r.trickle.invokes} runs); ` +
            `2,000/s: ${r.wakeCost.wakeCallsPerMessage.toFixed(4)} wake calls/msg, ${r.wakeCost.invokesPerSecond.toFixed(2)} invokes/s (${JSON.stringify(r.wakeCost.results)})`,
        );
      }
      if (sections.has('debounce')) {
        await freshQueue();
        r.debounce = await debounceThroughHandler({ newDb: () => dataApiDb(server.url, database), pool });
        log(
          `rep ${rep} debounce: ${r.debounce.enqueues} enqueues of one key → ${r.debounce.runs} run(s)${r.debounce.lastPayloadRan ? ' with the last payload' : ''}, ` +
            `${r.debounce.delayMs.toFixed(0)} ms after the last enqueue; ${r.debounce.enqueueCallsPerMessage.toFixed(2)} calls per enqueue`,
        );
      }
      if (sections.has('cancel')) {
        await freshQueue();
        await server.setLatency(LATENCY_MS);
        try {
          r.cancel = await cancelLatency({ newDb: () => dataApiDb(server.url, database), tries: 50 });
        } finally {
          await server.setLatency(0);
        }
        log(
          `rep ${rep} cancel of a running message, +${LATENCY_MS} ms/call: p50 ${r.cancel.latency.median.toFixed(0)} ms, p99 ${r.cancel.p99Ms.toFixed(0)} ms ` +
            `(${r.cancel.cancelled}/${r.cancel.tries} cancelled)`,
        );
      }
      // Once per bench, not per repetition: it runs in real time (about 3 minutes at full scale).
      if (sections.has('heartbeat') && rep === 1) {
        await freshQueue();
        r.heartbeat = await heartbeatScenario({ endpoint: server.url, database, scale: HEARTBEAT_SCALE });
        const h = r.heartbeat;
        log(
          `rep ${rep} heartbeat, ${h.scale.handlerMs / 1_000} s handler on a ${h.scale.leaseSeconds} s lease: ${h.starts} start(s) with ${h.pollRuns} polling run(s) alongside ` +
            `(${h.claimedByB} claimed), ${h.beatCalls} heartbeat calls of ${h.callsOfA}; killed ${h.scale.killAfterMs / 1_000} s in: taken over ` +
            `${(h.takeoverMs / 1_000).toFixed(1)} s after the kill, ${(h.restartMs / 1_000).toFixed(1)} s after the first start (attempt ${h.attemptOfB}${h.doneByB ? ', done' : ''})`,
        );
      }
      if (receiver !== undefined) {
        r.delivery = await measureDelivery({ newDb: () => dataApiDb(server.url, database), pool, receiver, count: N.delivery, inFlight: DELIVERY_IN_FLIGHT });
        const plain = Object.entries(r.delivery.plain)
          .map(([client, result]) => `${client} ${formatNumber(result.perSecond)}`)
          .join(', ');
        log(
          `rep ${rep} delivery ×${DELIVERY_IN_FLIGHT}: plain ${plain} req/s; sendJson ${formatNumber(r.delivery.sendJson.perSecond)} req/s; ` +
            `webhook drain ${formatNumber(r.delivery.drain.perSecond)} msg/s (no network ${formatNumber(r.delivery.drainNoNetwork.perSecond)})`,
        );
      }
      if (sections.has('groups')) {
        r.groups = await measureGroups({ newDb: () => dataApiDb(server.url, database), pool, sizes: GROUPS });
        const g = r.groups;
        log(
          `rep ${rep} groups: noisy neighbour p95 fair ${g.noisyFair.p95Ms.toFixed(0)} ms, unfair ${g.noisyUnfair.p95Ms.toFixed(0)} ms; ` +
            `limits held: ${g.limits.mostInFlight} in flight, ${g.limits.busiestSecond} starts in 1 s at most (${g.limits.groupsOver} groups over); ` +
            `cost: ${formatNumber(g.cost.grouped.perSecond)} msg/s in ${g.cost.groups} groups vs ${formatNumber(g.cost.plain.perSecond)} plain, ${g.cost.claimCallsPerClaim.toFixed(2)} calls per claim (+${g.cost.setupCalls} setup); ` +
            `raise → ${g.overrideFair.raiseMs.map((ms) => ms.toFixed(0)).join('/')} ms fair, ${g.overrideUnfair.raiseMs.map((ms) => ms.toFixed(0)).join('/')} ms not fair; paused group's starts after the pause ${g.overrideFair.pausedStartsAfter}/${g.overrideUnfair.pausedStartsAfter}`,
        );
      }
      if (sections.has('sms')) {
        r.sms = await measureSmsBulk({ newDb: () => dataApiDb(server.url, database), pool, count: N.sms, inFlight: DELIVERY_IN_FLIGHT });
        log(
          `rep ${rep} sms ×${DELIVERY_IN_FLIGHT}: single ${formatNumber(r.sms.single.perSecond)} msg/s (${r.sms.single.providerRequests} requests); ` +
            `bulk ${formatNumber(r.sms.bulk.perSecond)} msg/s (${r.sms.bulk.providerRequests} requests), ${(r.sms.bulk.perSecond / r.sms.single.perSecond).toFixed(1)}×; ` +
            `provider at ${PROVIDER_LATENCY_MS} ms: single ${formatNumber(r.sms.singleSlow.perSecond)}, bulk ${formatNumber(r.sms.bulkSlow.perSecond)} msg/s, ${(r.sms.bulkSlow.perSecond / r.sms.singleSlow.perSecond).toFixed(1)}×`,
        );
      }
    }

    let claimCost: ClaimCostResult | undefined;
    let groupClaimCost: GroupClaimCostResult | undefined;
    if (sections.has('claim') || sections.has('groups')) {
      log(`claim cost: seeding ${N.finished.toLocaleString('en-US')} finished messages…`);
      const historyDatabase = await createBenchDatabase('aq_bench_history');
      await migrateBenchDatabase(server.url, historyDatabase);
      const historyPool = rawPool(historyDatabase);
      try {
        const seedFinishedMs = await seedHistory(historyPool, BENCH_QUEUE, N.finished, log);
        const history = { emptyPool: pool, fullPool: historyPool, queue: BENCH_QUEUE, finishedRows: N.finished, claims: 100, batch: DRAIN_BATCH, reps, log };
        if (sections.has('claim')) {
          await freshQueue();
          claimCost = await measureClaimCost({ ...history, seedFinishedMs });
        }
        if (sections.has('groups')) {
          await freshQueue();
          groupClaimCost = await measureGroupClaimCost({ ...history, groups: GROUP_CLAIM_GROUPS });
        }
      } finally {
        await historyPool.end();
        await dropBenchDatabase(historyDatabase);
      }
      await freshQueue();
    }

    let bundles: BundlesResult | undefined;
    if (sections.has('bundles')) {
      log('bundles: serverless package…');
      bundles = await measureBundles(3, log);
    }

    probes.push(await probeMachine(pool));
    const rows = [
      ...tableRows(repetitions, claimCost, bundles),
      ...groupsRows(
        collect(repetitions, (rep) => rep.groups),
        groupClaimCost,
        GROUPS,
      ),
    ];
    console.log(`\n## aurora-queue bench, ${startedAt.toISOString()}\n`);
    console.log(
      `${reps} repetition(s) · scale ${scale} · ${cpus().length} CPUs · Data API server in its own process (D1 also with it in-process) · MariaDB at ${new URL(DATABASE_URL).host}`,
    );
    console.log(`machine at start: ${describeProbe(probes[0]!)}\nmachine at end:   ${describeProbe(probes[1]!)}\n`);
    console.log(markdownTable(rows));
    console.log(`\nCPU per message (µs), medians — where the time goes:\n\n${cpuBreakdown(repetitions)}`);
    console.log(`\nRound trips of the drain runs (medians over repetitions):\n\n${roundTripTable(repetitions)}`);
    if (claimCost !== undefined) {
      console.log(
        `\nEXPLAIN of the claim's SELECT with ${N.finished.toLocaleString('en-US')} finished rows:\n\n${explainTable(claimCost.explain.claimSelect)}`,
      );
      console.log(`\nEXPLAIN of the claim (UPDATE):\n\n${explainTable(claimCost.explain.claimUpdate)}`);
    }
    if (groupClaimCost !== undefined) {
      console.log(
        `\nEXPLAIN of the fair claim (lib/sql/groupLimits.ts, one statement) with ${N.finished.toLocaleString('en-US')} finished rows:\n\n${explainTable(groupClaimCost.explain)}`,
      );
      console.log(
        `\nANALYZE of the same (what each step really read, and its time with ANALYZE's own per-row timing):\n\n${analyzeTable(groupClaimCost.analyze)}`,
      );
    }

    const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
    await mkdir(resultsDir, { recursive: true });
    const json = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, probes },
      settings: {
        reps,
        scale,
        sections: [...sections],
        N,
        E1_IN_FLIGHT,
        E2_BATCH,
        E2_IN_FLIGHT,
        DRAIN_BATCH,
        D2_RUNS,
        LATENCY_MS,
        PIPELINED_LOOPS,
        DELIVERY_IN_FLIGHT,
        HEARTBEAT_SCALE,
        GROUPS,
      },
      rows: rows.map((row) => ({ ...row, pass: passes(row) })),
      repetitions: repetitions.map(stripSummaries),
      claimCost,
      groupClaimCost,
      bundles,
    };
    await writeFile(`${resultsDir}latest.json`, `${JSON.stringify(json, null, 2)}\n`);
    log(`\nwrote bench/results/latest.json`);
  } finally {
    await stop();
  }
}

/** A drain's claim round trips per claim: taking permits, the claim itself, the read-back. */
function claimCallsPerClaim(result: DrainRunsResult): number {
  const calls = (kind: string) => result.roundTrips[kind]?.calls ?? 0;
  return (calls('permits') + calls('heads') + calls('claim') + calls('read')) / Math.max(1, calls('claim'));
}

/** Drain summaries are long; the JSON keeps their counts only. */
function stripSummaries(rep: Repetition): unknown {
  const strip = (m: Measured<DrainRunsResult> | undefined) =>
    m === undefined ? undefined : { ...m, result: { ...m.result, summaries: m.result.summaries.map(({ queues: _queues, ...rest }) => rest) } };
  return {
    ...rep,
    d1: strip(rep.d1),
    d1InProcess: strip(rep.d1InProcess),
    d2: strip(rep.d2),
    d1Latency: strip(rep.d1Latency),
  };
}

function describeProbe(probe: MachineProbe): string {
  return (
    `load ${probe.load.map((l) => l.toFixed(2)).join(' ')}, fixed JS work ${probe.cpuWorkMs.toFixed(0)} ms, ` +
    `mysql2 SELECT 1 ${probe.mysqlRoundTripMs.toFixed(2)} ms, one-row commit ${probe.commitMs.toFixed(2)} ms`
  );
}

function collect<T>(repetitions: readonly Repetition[], pick: (rep: Repetition) => T | undefined): T[] {
  return repetitions.map(pick).filter((value): value is T => value !== undefined);
}

/** Per-repetition ratios of two figures measured in the same repetition. */
function ratioFigure(
  repetitions: readonly Repetition[],
  top: (rep: Repetition) => number | undefined,
  bottom: (rep: Repetition) => number | undefined,
): Figure | undefined {
  const ratios = collect(repetitions, (rep) => {
    const a = top(rep);
    const b = bottom(rep);
    return a === undefined || b === undefined ? undefined : a / b;
  });
  return ratios.length === 0 ? undefined : figure(ratios);
}

function tableRows(repetitions: readonly Repetition[], claimCost: ClaimCostResult | undefined, bundles: BundlesResult | undefined): Row[] {
  const rows: Row[] = [];
  const raw = (key: string) => (rep: Repetition) => rep.raw[key]?.result.perSecond;
  const add = (
    row: Omit<Row, 'ratio'> & { ratioTo?: { label: string; top: (rep: Repetition) => number | undefined; bottom: (rep: Repetition) => number | undefined } },
  ) => {
    const { ratioTo, ...rest } = row;
    const ratio = ratioTo === undefined ? undefined : ratioFigure(repetitions, ratioTo.top, ratioTo.bottom);
    rows.push(ratio === undefined ? rest : { ...rest, ratio: { to: ratioTo!.label, figure: ratio } });
  };
  /** The client's count (db.stats) against the server's (GET /_local/stats), per repetition. */
  const crossCheck = (measured: Measured<{ calls: number }>[]) =>
    measured.every((m) => m.serverCalls === m.result.calls)
      ? `client and server both counted ${measured.map((m) => m.result.calls).join('/')} calls`
      : `client counted ${measured.map((m) => m.result.calls).join('/')}, server ${measured.map((m) => m.serverCalls).join('/')} calls`;

  const plain = (key: string) => (rep: Repetition) => rep.plain[key]?.result.perSecond;
  /** The best plain shape at a batch size, whatever its number of loops: the baseline for that batch. */
  const bestPlain = (batch: number) => (rep: Repetition) => {
    const values = RAW_SHAPES.filter((shape) => shape.batch === batch).map((shape) => plain(`${shape.batch}x${shape.loops}`)(rep));
    const known = values.filter((value): value is number => value !== undefined);
    return known.length === 0 ? undefined : Math.max(...known);
  };
  for (const { batch, loops } of RAW_SHAPES) {
    const key = `${batch}x${loops}`;
    const values = collect(repetitions, plain(key));
    if (values.length > 0) {
      rows.push({
        id: `plain ${key}`,
        what: `plain SQL over mysql2: BEGIN; SELECT … FOR UPDATE SKIP LOCKED; UPDATE by id; COMMIT; finish by id; ${batch}/claim, ${loops} loop${loops > 1 ? 's' : ''} (the baseline)`,
        unit: 'msg/s',
        figure: figure(values),
      });
    }
  }
  for (const { batch, loops } of RAW_SHAPES) {
    const key = `${batch}x${loops}`;
    const values = collect(repetitions, raw(key));
    if (values.length > 0) {
      const deadlocks = collect(repetitions, (rep) => rep.raw[key]?.result.deadlocks);
      add({
        id: `SQL ${key}`,
        what: `the product's claim, read and ack SQL over mysql2, ${batch}/claim, ${loops} loop${loops > 1 ? 's' : ''}`,
        unit: 'msg/s',
        figure: figure(values),
        note: deadlocks.some((n) => n > 0) ? `deadlocks retried: ${deadlocks.join('/')}` : undefined,
        ratioTo: { label: `plain ${key}`, top: raw(key), bottom: plain(key) },
      });
    }
  }
  /** The product's best shape at a batch size (the drainer keeps several claims in flight). */
  const bestSql = (batch: number) => (rep: Repetition) => {
    const known = RAW_SHAPES.filter((shape) => shape.batch === batch)
      .map((shape) => raw(`${shape.batch}x${shape.loops}`)(rep))
      .filter((v): v is number => v !== undefined);
    return known.length === 0 ? undefined : Math.max(...known);
  };
  for (const batch of [...new Set(RAW_SHAPES.map((shape) => shape.batch))]) {
    if (collect(repetitions, bestSql(batch)).length === 0) continue;
    add({
      id: `SQL best ${batch}`,
      what: `the product's SQL at ${batch}/claim, its better loop count, over the best plain shape at ${batch}/claim`,
      unit: 'msg/s',
      figure: figure(collect(repetitions, bestSql(batch))),
      target: { op: '>=', value: 0.6, text: `≥ 0.6 × best plain ${batch}` },
      targetOnRatio: true,
      ratioTo: { label: `best plain ${batch}`, top: bestSql(batch), bottom: bestPlain(batch) },
    });
  }
  const manyLoops = RAW_SHAPES.find((shape) => shape.batch === 100 && shape.loops > 1);
  if (manyLoops !== undefined && collect(repetitions, raw(`100x${manyLoops.loops}`)).length > 0) {
    add({
      id: `SQL 100x${manyLoops.loops} / 100x1`,
      what: `the product's SQL, ${manyLoops.loops} loops at once over one loop (contention)`,
      unit: '',
      figure: ratioFigure(repetitions, raw(`100x${manyLoops.loops}`), raw('100x1')) ?? figure([]),
      target: { op: '>=', value: 1, text: '≥ 1' },
    });
  }
  const plainE1 = collect(repetitions, (rep) => rep.plainInsert.e1?.result.perSecond);
  if (plainE1.length > 0)
    rows.push({ id: 'plain E1', what: `plain single-row INSERT … VALUES, ${E1_IN_FLIGHT} in flight (the baseline)`, unit: 'msg/s', figure: figure(plainE1) });
  const plainE2 = collect(repetitions, (rep) => rep.plainInsert.e2?.result.perSecond);
  if (plainE2.length > 0)
    rows.push({ id: 'plain E2', what: `plain multi-row INSERT … VALUES, ${E2_BATCH}/statement (the baseline)`, unit: 'msg/s', figure: figure(plainE2) });
  if (collect(repetitions, (rep) => rep.rawEnqueue.e1).length > 0) {
    add({
      id: 'SQL E1',
      what: `the product's insert, 1/statement, ${E1_IN_FLIGHT} in flight`,
      unit: 'msg/s',
      figure: figure(collect(repetitions, (rep) => rep.rawEnqueue.e1?.result.perSecond)),
      target: { op: '>=', value: 0.5, text: '≥ 0.5 × plain E1' },
      targetOnRatio: true,
      ratioTo: { label: 'plain E1', top: (rep) => rep.rawEnqueue.e1?.result.perSecond, bottom: (rep) => rep.plainInsert.e1?.result.perSecond },
    });
  }
  if (collect(repetitions, (rep) => rep.rawEnqueue.e2).length > 0) {
    add({
      id: 'SQL E2',
      what: `the product's insert, ${E2_BATCH}/statement`,
      unit: 'msg/s',
      figure: figure(collect(repetitions, (rep) => rep.rawEnqueue.e2?.result.perSecond)),
      target: { op: '>=', value: 0.5, text: '≥ 0.5 × plain E2' },
      targetOnRatio: true,
      ratioTo: { label: 'plain E2', top: (rep) => rep.rawEnqueue.e2?.result.perSecond, bottom: (rep) => rep.plainInsert.e2?.result.perSecond },
    });
  }
  // MariaDB's CPU over a message's whole life: enqueued in batches, claimed, read, finished.
  const lifeCpu = (insert: (rep: Repetition) => Measured<RawResult> | undefined, drain: (rep: Repetition) => Measured<RawResult> | undefined) =>
    collect(repetitions, (rep) => {
      const i = insert(rep);
      const d = drain(rep);
      if (i === undefined || d === undefined) return undefined;
      return ((i.cpu.mariadb ?? Number.NaN) / i.result.messages + (d.cpu.mariadb ?? Number.NaN) / d.result.messages) * 1_000;
    });
  const productLife = lifeCpu(
    (rep) => rep.rawEnqueue.e2,
    (rep) => rep.raw['100x1'],
  );
  const plainLife = lifeCpu(
    (rep) => rep.plainInsert.e2,
    (rep) => rep.plain['100x1'],
  );
  if (productLife.length > 0 && plainLife.length > 0) {
    rows.push({ id: 'DB CPU, plain', what: `MariaDB CPU per 1,000 messages over a life: plain E2 + plain 100x1`, unit: 'ms', figure: figure(plainLife) });
    rows.push({
      id: 'DB CPU, product',
      what: `MariaDB CPU per 1,000 messages over a life: the product's E2 insert + its 100x1 claim, read, ack`,
      unit: 'ms',
      figure: figure(productLife),
    });
  }

  const floor = collect(repetitions, (rep) => rep.floor);
  if (floor.length > 0) {
    rows.push({
      id: 'floor',
      what: `Data API \`SELECT 1\`, ${E1_IN_FLIGHT} in flight (the cheapest call: no single-message enqueue can beat it)`,
      unit: 'calls/s',
      figure: figure(floor.map((m) => m.result.perSecond)),
    });
  }
  const plainFloor = collect(repetitions, (rep) => rep.plainFloor);
  if (plainFloor.length > 0) {
    rows.push({
      id: 'floor, no SDK',
      what: `the same \`SELECT 1\` request over plain node:http, ${E1_IN_FLIGHT} in flight (what the SDK adds is the difference)`,
      unit: 'calls/s',
      figure: figure(plainFloor.map((m) => m.result.perSecond)),
    });
  }
  const e1 = collect(repetitions, (rep) => rep.e1);
  if (e1.length > 0) {
    add({
      id: 'E1',
      what: `single-message enqueue via handler, ${E1_IN_FLIGHT} in flight, N=${N.e1}`,
      unit: 'msg/s',
      figure: figure(e1.map((m) => m.result.perSecond)),
      target: { op: '>=', value: 4_000, text: '≥ 4,000' },
      note: crossCheck(e1),
      ratioTo: { label: 'plain E1', top: (rep) => rep.e1?.result.perSecond, bottom: (rep) => rep.plainInsert.e1?.result.perSecond },
    });
  }
  const clients = collect(repetitions, (rep) => rep.client);
  if (clients.length > 0) {
    rows.push({
      id: 'client E1',
      what: `typed client, direct transport, ${E1_IN_FLIGHT} concurrent callers of single enqueue(), auto-batching (linger ${CLIENT_LINGER_MS} ms), N=${N.e2}`,
      unit: 'msg/s',
      figure: figure(clients.map((c) => c.perSecond)),
      target: { op: '>=', value: 10_000, text: '≥ 10,000' },
    });
    rows.push({
      id: 'client calls',
      what: `the same: Data API calls per message (with ${E1_IN_FLIGHT} callers each awaiting its enqueue, a batch holds at most ${E1_IN_FLIGHT}: ≥ ${(1 / E1_IN_FLIGHT).toFixed(3)})`,
      unit: '',
      figure: figure(clients.map((c) => c.callsPerMessage)),
      target: { op: '<=', value: 0.05, text: '≤ 0.05' },
    });
  }
  const pipelined = collect(repetitions, (rep) => rep.clientPipelined);
  if (pipelined.length > 0) {
    rows.push({
      id: 'client E1 ×32',
      what: `the same, each of the ${E1_IN_FLIGHT} callers keeping 32 enqueue() calls outstanding`,
      unit: 'msg/s',
      figure: figure(pipelined.map((c) => c.perSecond)),
      target: { op: '>=', value: 10_000, text: '≥ 10,000' },
      note: `${figure(pipelined.map((c) => c.callsPerMessage)).median.toFixed(3)} calls per message`,
    });
  }
  const clientLatencies = collect(repetitions, (rep) => rep.clientLatency);
  if (clientLatencies.length > 0) {
    rows.push({
      id: `client +${LATENCY_MS}ms`,
      what: `the same with ${LATENCY_MS} ms added per Data API call: p50 of one enqueue() (target: linger + one round trip)`,
      unit: 'ms',
      figure: figure(clientLatencies.map((c) => c.latency.median)),
      target: { op: '<=', value: CLIENT_LINGER_MS + LATENCY_MS + 10, text: `≤ ${CLIENT_LINGER_MS} + ${LATENCY_MS} ms + the call's own time` },
    });
  }
  const e2 = collect(repetitions, (rep) => rep.e2);
  if (e2.length > 0) {
    add({
      id: 'E2',
      what: `batch enqueue via handler, ${E2_BATCH}/call, ${E2_IN_FLIGHT} in flight, N=${N.e2}`,
      unit: 'msg/s',
      figure: figure(e2.map((m) => m.result.perSecond)),
      ratioTo: { label: 'plain E2', top: (rep) => rep.e2?.result.perSecond, bottom: (rep) => rep.plainInsert.e2?.result.perSecond },
    });
    rows.push({
      id: 'E2 calls',
      what: 'Data API calls per batch of 500',
      unit: 'calls',
      figure: figure(e2.map((m) => (m.result.calls * E2_BATCH) / m.result.messages)),
      target: { op: '<=', value: 1, text: '1' },
      note: crossCheck(e2),
    });
  }

  const d1 = collect(repetitions, (rep) => rep.d1);
  if (d1.length > 0) {
    add({
      id: 'D1',
      what: `one drain run, ${N.drain} due, no-op handler, batch ${DRAIN_BATCH}`,
      unit: 'msg/s',
      figure: figure(d1.map((m) => m.result.perSecond)),
      target: { op: '>=', value: 0.6, text: '≥ 0.6 × best plain 100' },
      targetOnRatio: true,
      ratioTo: { label: 'best plain 100', top: (rep) => rep.d1?.result.perSecond, bottom: bestPlain(100) },
    });
    rows.push({
      id: 'D1 wait',
      what: 'wait of the last message (drain start → its finished_at)',
      unit: 'ms',
      figure: figure(d1.map((m) => m.result.lastWaitMs)),
    });
    rows.push({
      id: 'D1 calls',
      what: 'Data API calls per message',
      unit: '',
      figure: figure(d1.map((m) => m.result.calls / m.result.messages)),
      target: { op: '<=', value: 0.03, text: '≤ 0.03' },
      note: crossCheck(d1),
    });
  }
  const d1In = collect(repetitions, (rep) => rep.d1InProcess);
  if (d1In.length > 0) {
    add({
      id: 'D1 in-process',
      what: "D1 with the Data API server in the client's process (one event loop)",
      unit: 'msg/s',
      figure: figure(d1In.map((m) => m.result.perSecond)),
      ratioTo: { label: 'best plain 100', top: (rep) => rep.d1InProcess?.result.perSecond, bottom: bestPlain(100) },
    });
  }
  const d2 = collect(repetitions, (rep) => rep.d2);
  if (d2.length > 0) {
    add({
      id: 'D2',
      what: `${D2_RUNS} drain runs at once over ${N.drain}`,
      unit: 'msg/s',
      figure: figure(d2.map((m) => m.result.perSecond)),
      ratioTo: { label: 'best plain 100', top: (rep) => rep.d2?.result.perSecond, bottom: bestPlain(100) },
    });
    add({
      id: 'D2 / D1',
      what: 'D2 throughput over D1 (same repetition)',
      unit: '',
      figure:
        ratioFigure(
          repetitions,
          (rep) => rep.d2?.result.perSecond,
          (rep) => rep.d1?.result.perSecond,
        ) ?? figure([]),
      target: { op: '>=', value: 1, text: '≥ 1' },
    });
    rows.push({
      id: 'D2 dup',
      what: 'messages dispatched twice',
      unit: '',
      figure: figure(d2.map((m) => m.result.duplicates)),
      target: { op: '==', value: 0, text: '0' },
    });
    rows.push({
      id: 'D2 missing',
      what: 'seeded messages not done',
      unit: '',
      figure: figure(d2.map((m) => m.result.missing)),
      target: { op: '==', value: 0, text: '0' },
    });
    rows.push({
      id: 'D2 calls',
      what: 'Data API calls per message',
      unit: '',
      figure: figure(d2.map((m) => m.result.calls / m.result.messages)),
      note: crossCheck(d2),
    });
  }
  const d1L = collect(repetitions, (rep) => rep.d1Latency);
  if (d1L.length > 0) {
    add({
      id: `D1 +${LATENCY_MS}ms`,
      what: `D1 with the server adding ${LATENCY_MS} ms per call`,
      unit: 'msg/s',
      figure: figure(d1L.map((m) => m.result.perSecond)),
      target: { op: '>=', value: 5_000, text: '≥ 5,000' },
      ratioTo: { label: 'best plain 100', top: (rep) => rep.d1Latency?.result.perSecond, bottom: bestPlain(100) },
    });
    rows.push({
      id: `D1 +${LATENCY_MS}ms calls`,
      what: 'Data API calls per message',
      unit: '',
      figure: figure(d1L.map((m) => m.result.calls / m.result.messages)),
      note: crossCheck(d1L),
    });
    rows.push({
      id: 'drain GB-s/M',
      what: `drain Lambda GB-seconds per million messages at ${DRAIN_MEMORY_GB * 1_024} MB (drainMemorySize), from D1 +${LATENCY_MS}ms, no-op handler (cost input g)`,
      unit: 'GB-s',
      figure: figure(d1L.map((m) => (DRAIN_MEMORY_GB * 1_000_000) / m.result.perSecond)),
    });
  }
  const unordered = collect(repetitions, (rep) => rep.unordered);
  if (unordered.length > 0) {
    rows.push({
      id: 'unordered',
      what: `one drain run, ${N.drain} due, no-op handler (D1, measured next to the runs below)`,
      unit: 'msg/s',
      figure: figure(unordered.map((m) => m.result.perSecond)),
    });
    const semantics: [string, string, (rep: Repetition) => Measured<DrainRunsResult> | undefined][] = [
      ['FIFO', `the same over ${FIFO_GROUPS} FIFO groups (fifo: true), messages dealt round-robin`, (rep) => rep.fifo],
      [
        'rate',
        `the same with a queue-wide rate of ${NON_BINDING_RATE.ratePerSecond.toLocaleString('en-US')}/s (permits taken, nothing bound; each message starts 150 ms after its permit)`,
        (rep) => rep.rateLimited,
      ],
      [
        'concurrency',
        `the same with a queue-wide concurrency of ${NON_BINDING_CONCURRENCY.concurrency.toLocaleString('en-US')} (permits taken and released, nothing bound)`,
        (rep) => rep.concurrencyLimited,
      ],
      ['FIFO + limits', 'FIFO with both limits: the calls a claim costs with everything on', (rep) => rep.fifoLimited],
    ];
    for (const [id, what, pick] of semantics) {
      rows.push({
        id,
        what,
        unit: 'msg/s',
        figure: figure(collect(repetitions, pick).map((m) => m.result.perSecond)),
        ratio: {
          to: 'unordered',
          figure:
            ratioFigure(
              repetitions,
              (rep) => pick(rep)?.result.perSecond,
              (rep) => rep.unordered?.result.perSecond,
            ) ?? figure([]),
        },
        ...(id === 'FIFO' ? { target: { op: '>=', value: 0.5, text: '≥ 0.5 × unordered' }, targetOnRatio: true } : {}),
      });
      rows.push({
        id: `${id} claim calls`,
        what: 'Data API calls per claim: permits, claim, read (messages per claim in the note)',
        unit: 'calls',
        figure: figure(collect(repetitions, pick).map((m) => claimCallsPerClaim(m.result))),
        target: { op: '<=', value: 3, text: '≤ 3' },
        note: `${formatNumber(figure(collect(repetitions, pick).map((m) => m.result.messages / (m.result.roundTrips.claim?.calls ?? 1))).median)} messages per claim`,
      });
    }
    rows.push({
      id: `FIFO ${FIFO_DRAINS} drains`,
      what: `the FIFO drain with ${FIFO_DRAINS} runs at once over the same ${FIFO_GROUPS} groups (concurrent claims take disjoint groups)`,
      unit: 'msg/s',
      figure: figure(collect(repetitions, (rep) => rep.fifoConcurrent).map((m) => m.result.perSecond)),
      ratio: {
        to: 'FIFO',
        figure:
          ratioFigure(
            repetitions,
            (rep) => rep.fifoConcurrent?.result.perSecond,
            (rep) => rep.fifo?.result.perSecond,
          ) ?? figure([]),
      },
      target: { op: '>=', value: 1, text: '≥ 1 × one FIFO drain' },
      targetOnRatio: true,
    });
  }
  if (claimCost !== undefined) {
    rows.push({
      id: 'claim cost',
      what:
        `claim+read of ${DRAIN_BATCH} over mysql2 with ${claimCost.finishedRows.toLocaleString('en-US')} finished rows vs none ` +
        `(median of ${claimCost.claimsPerRep} claims per repetition: ${claimCost.fullMs.median.toFixed(2)} vs ${claimCost.emptyMs.median.toFixed(2)} ms)`,
      unit: '×',
      figure: claimCost.ratio,
      target: { op: '<=', value: 1.2, text: '≤ 1.2×' },
    });
    rows.push({
      id: 'claim cost FIFO',
      what:
        `the FIFO claim (the heads of ${DRAIN_BATCH / 2} groups and their followers) + read with the same history (in groups) vs none ` +
        `(${claimCost.fifo.fullMs.median.toFixed(2)} vs ${claimCost.fifo.emptyMs.median.toFixed(2)} ms)`,
      unit: '×',
      figure: claimCost.fifo.ratio,
      target: { op: '<=', value: 1.2, text: '≤ 1.2×' },
    });
  }
  const latencyRows = (id: string, what: string, results: readonly PickupResult[], p50Ms: number, p99Ms: number) => {
    if (results.length === 0) return;
    const text = (ms: number) => (ms >= 1_000 ? `≤ ${ms / 1_000} s` : `≤ ${ms} ms`);
    rows.push({
      id: `${id} p50`,
      what,
      unit: 'ms',
      figure: figure(results.map((p) => p.latency.median)),
      target: { op: '<=', value: p50Ms, text: text(p50Ms) },
    });
    rows.push({
      id: `${id} p99`,
      what: 'the same, 99th percentile',
      unit: 'ms',
      figure: figure(results.map((p) => p.p99Ms)),
      target: { op: '<=', value: p99Ms, text: text(p99Ms) },
    });
  };
  latencyRows(
    'pickup',
    `enqueue answered → handler started, 10 msg/s, +${LATENCY_MS} ms per Data API call, wake on enqueue`,
    collect(repetitions, (rep) => rep.pickup),
    200,
    1_000,
  );
  latencyRows(
    'trickle',
    `enqueue answered → handler started, 1 msg/s, +${LATENCY_MS} ms per Data API call: a lingering drain's polls`,
    collect(repetitions, (rep) => rep.trickle),
    100,
    500,
  );
  const cancels = collect(repetitions, (rep) => rep.cancel);
  if (cancels.length > 0) {
    const what = `DELETE of a running message answered → its handler's signal aborted, over ${cancels[0]!.tries} tries, +${LATENCY_MS} ms per Data API call`;
    rows.push({ id: 'cancel p50', what, unit: 'ms', figure: figure(cancels.map((c) => c.latency.median)) });
    rows.push({
      id: 'cancel p99',
      what: 'the same, 99th percentile',
      unit: 'ms',
      figure: figure(cancels.map((c) => c.p99Ms)),
      target: { op: '<=', value: 1_000, text: '≤ 1 s' },
      note: `${cancels.map((c) => `${c.cancelled}/${c.tries}`).join(', ')} ended cancelled`,
    });
  }
  rows.push(...heartbeatRows(collect(repetitions, (rep) => rep.heartbeat)));
  for (const [label, pick] of [
    ['1 msg/s', (rep: Repetition) => rep.trickle],
    ['10 msg/s', (rep: Repetition) => rep.pickup],
    ['100 msg/s', (rep: Repetition) => rep.steady100],
  ] as const) {
    const runs = collect(repetitions, pick);
    if (runs.length === 0) continue;
    rows.push({
      id: `cost ${label}`,
      what: `single enqueues at ${label}, +${LATENCY_MS} ms per call: the drain's Data API calls per message (cost input d), the enqueue's (insert and wake checks, e), drain seconds per message`,
      unit: '',
      figure: figure(runs.map((r) => r.drainCallsPerMessage)),
      note: `e ${figure(runs.map((r) => r.enqueueCallsPerMessage)).median.toFixed(3)}, drain ${figure(runs.map((r) => r.drainSecondsPerMessage)).median.toFixed(3)} s/msg`,
    });
  }
  const idleRuns = collect(repetitions, (rep) => rep.idleRun);
  if (idleRuns.length > 0) {
    rows.push({
      id: 'idle run calls',
      what: 'a safety-net run (scheduled, not woken) over idle queues: Data API calls, whatever the number of queues (cost input c_s)',
      unit: '',
      figure: figure(idleRuns.map((r) => r.calls)),
      target: { op: '<=', value: 2, text: '≤ 2' },
    });
    rows.push({ id: 'idle run ms', what: 'its duration (cost input t_s)', unit: 'ms', figure: figure(idleRuns.map((r) => r.ms)) });
  }
  const costs = collect(repetitions, (rep) => rep.wakeCost);
  if (costs.length > 0) {
    rows.push({
      id: 'wake calls',
      what: '2,000 msg/s into one queue from 8 processes (batches of 10): Data API calls for wake coordination per message',
      unit: '',
      figure: figure(costs.map((c) => c.wakeCallsPerMessage)),
      target: { op: '<=', value: 0.01, text: '≤ 0.01' },
    });
    rows.push({
      id: 'wake invokes',
      what: 'the same: drain invokes per second',
      unit: '/s',
      figure: figure(costs.map((c) => c.invokesPerSecond)),
      target: { op: '<=', value: 1, text: '≤ 1' },
    });
  }
  const debounces = collect(repetitions, (rep) => rep.debounce);
  if (debounces.length > 0) {
    rows.push({
      id: 'debounce runs',
      what: '100 enqueues of one key through the handler, 20 ms apart, debounce 1 s, then a woken drain: handler runs (1 with the last payload)',
      unit: '',
      figure: figure(debounces.map((d) => (d.lastPayloadRan ? d.runs : Number.NaN))),
      target: { op: '<=', value: 1, text: '1, last payload' },
      note: `${figure(debounces.map((d) => d.enqueueCallsPerMessage)).median.toFixed(2)} Data API calls per enqueue`,
    });
    rows.push({
      id: 'debounce delay',
      what: 'the same: last enqueue answered → handler started',
      unit: 'ms',
      figure: figure(debounces.map((d) => d.delayMs)),
      target: { op: '<=', value: 1_500, text: '≈ 1 s (≤ 1.5 s)' },
    });
  }
  rows.push(
    ...deliveryRows(
      collect(repetitions, (rep) => rep.delivery),
      DELIVERY_IN_FLIGHT,
      N.delivery,
    ),
  );
  rows.push(
    ...smsBulkRows(
      collect(repetitions, (rep) => rep.sms),
      DELIVERY_IN_FLIGHT,
      N.sms,
    ),
  );
  if (bundles !== undefined) {
    for (const bundle of bundles.bundles) {
      rows.push({
        id: `zip ${bundle.name}`,
        what: `${bundle.name} bundle, zipped`,
        unit: 'KB',
        figure: figure([bundle.zipBytes / 1024]),
        target: { op: '<=', value: 500, text: '≤ 500 KB' },
      });
      rows.push({
        id: `init ${bundle.name}`,
        what: `${bundle.name} module init, fresh node less \`node -e ''\` (import alone: ${bundle.importMs.median.toFixed(0)} ms)`,
        unit: 'ms',
        figure: bundle.initMs,
        target: { op: '<=', value: 150, text: '≤ 150 ms' },
      });
    }
  }
  return rows;
}

function cpuBreakdown(repetitions: readonly Repetition[]): string {
  const lines = ['| measure | client | Data API server | MariaDB | total |', '|---|---|---|---|---|'];
  const scenarios: [string, (rep: Repetition) => Measured<{ messages: number }> | undefined][] = [
    ['raw 100x1', (rep) => rep.raw['100x1']],
    [`raw 100x${PIPELINED_LOOPS}`, (rep) => rep.raw[`100x${PIPELINED_LOOPS}`]],
    ['E1', (rep) => rep.e1],
    ['E2', (rep) => rep.e2],
    ['D1', (rep) => rep.d1],
    ['D2', (rep) => rep.d2],
    [`D1 +${LATENCY_MS}ms`, (rep) => rep.d1Latency],
    ['floor (per call)', (rep) => rep.floor],
    ['floor, no SDK (per call)', (rep) => rep.plainFloor],
  ];
  for (const [name, pick] of scenarios) {
    const measured = collect(repetitions, pick);
    if (measured.length === 0) continue;
    const per = (key: string) => figure(measured.map((m) => ((m.cpu[key] ?? Number.NaN) * 1_000) / m.result.messages)).median;
    const client = per('client');
    const server = name.startsWith('raw') ? 0 : per('server');
    const mariadb = per('mariadb');
    lines.push(
      `| ${name} | ${formatNumber(client)} | ${name.startsWith('raw') ? '—' : formatNumber(server)} | ${formatNumber(mariadb)} | ${formatNumber(client + server + mariadb)} |`,
    );
  }
  return lines.join('\n');
}

function roundTripTable(repetitions: readonly Repetition[]): string {
  const scenarios: [string, (rep: Repetition) => Measured<DrainRunsResult> | undefined][] = [
    ['D1', (rep) => rep.d1],
    ['D1 in-process', (rep) => rep.d1InProcess],
    ['D2', (rep) => rep.d2],
    [`D1 +${LATENCY_MS}ms`, (rep) => rep.d1Latency],
  ];
  const kinds = ['claim', 'read', 'ack'];
  const lines = [
    `| run | ${kinds.map((k) => `${k}: calls, median ms`).join(' | ')} | other calls | statements in flight (mean) | wall ms |`,
    `|---|${kinds.map(() => '---').join('|')}|---|---|---|`,
  ];
  for (const [name, pick] of scenarios) {
    const measured = collect(repetitions, pick);
    if (measured.length === 0) continue;
    const cells = kinds.map((kind) => {
      const calls = figure(measured.map((m) => m.result.roundTrips[kind]?.calls ?? 0)).median;
      const ms = figure(measured.map((m) => m.result.roundTrips[kind]?.medianMs ?? Number.NaN)).median;
      return `${formatNumber(calls)}, ${ms.toFixed(1)}`;
    });
    const other = figure(
      measured.map((m) => Object.entries(m.result.roundTrips).reduce((sum, [kind, rt]) => (kinds.includes(kind) ? sum : sum + rt.calls), 0)),
    ).median;
    const inFlight = figure(measured.map((m) => m.result.meanInFlight)).median;
    const wall = figure(measured.map((m) => m.result.ms)).median;
    lines.push(`| ${name} | ${cells.join(' | ')} | ${formatNumber(other)} | ${inFlight.toFixed(2)} | ${formatNumber(wall)} |`);
  }
  return lines.join('\n');
}

/** An EXPLAIN cell: text as it is, NULL empty, numbers (and anything else) as JSON. */
const cellText = (value: unknown): string => (value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value));

function explainTable(rows: readonly unknown[]): string {
  const list = rows as Record<string, unknown>[];
  if (list.length === 0) return '(none)';
  const keys = Object.keys(list[0]!);
  return [`| ${keys.join(' | ')} |`, `|${keys.map(() => '---').join('|')}|`, ...list.map((row) => `| ${keys.map((k) => cellText(row[k])).join(' | ')} |`)].join(
    '\n',
  );
}

await main().catch((error: unknown) => {
  // mysql2 errors carry the whole statement, parameters included: print the message only.
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
