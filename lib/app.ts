import { systemClock, type Clock } from './clock.js';
import { ConfigError, leaseProblems, queueTypeProblems, type QueueAppConfig } from './config.js';
import { createDb, dbConfigFromEnv } from './db/index.js';
import type { Db } from './db/types.js';
import { JobRegistry } from './jobs/index.js';
import { createLogger } from './observability.js';
import type { AnyJobType } from './jobs/types.js';
import { resolveQueues, type QueueConfig } from './queues.js';
import { recurringState, type RecurringState } from './recurring.js';
import { TimedWakes } from './timedWakes.js';
import { lambdaInvoker, Waker, type InvokeDrain } from './wake.js';
import { wakeSchedulerFromEnv, type WakeScheduler } from './wakeScheduler.js';

/** What handlers and the CLI work with: the database, the configured queues and job types, a clock. */
export interface App<J extends AnyJobType = AnyJobType> {
  db: Db;
  config: QueueAppConfig<J>;
  queues: Map<string, QueueConfig>;
  jobs: JobRegistry;
  clock: Clock;
  /** Starts a drain after an enqueue commits; undefined where no drain function is known (tests, scripts). */
  waker: Waker | undefined;
  /** Enqueues the config's recurring messages that are due; every drain run calls it first. */
  recurring: RecurringState;
  /** Starts a drain when messages come due later (lib/timedWakes.ts); undefined where no scheduler is known. */
  timedWakes: TimedWakes | undefined;
}

export interface AppOptions<J extends AnyJobType = AnyJobType> {
  /** The team's queue.config.ts. */
  config: QueueAppConfig<J>;
  db?: Db;
  /** Drain-wide defaults and the database's address; default process.env. */
  env?: NodeJS.ProcessEnv;
  clock?: Clock;
  /**
   * How an enqueue starts a drain (lib/wake.ts). Default: an async invoke of DRAIN_FUNCTION_NAME
   * (at LAMBDA_ENDPOINT locally) when the environment names one; otherwise no wakes.
   */
  invokeDrain?: InvokeDrain;
  /**
   * How a drain run or a delayed enqueue arranges a later drain (lib/wakeScheduler.ts). Default:
   * EventBridge Scheduler when the environment names the schedule group (WAKE_SCHEDULE_GROUP, …);
   * otherwise no timed wakes.
   */
  wakeScheduler?: WakeScheduler;
}

/** Throws a ConfigError when the environment's defaults break the config (a lease too short). */
export function createApp<J extends AnyJobType>(options: AppOptions<J>): App<J> {
  const env = options.env ?? process.env;
  const queues = resolveQueues(options.config.queues, env);
  const jobs = new JobRegistry(options.config.jobTypes);
  const typeProblems = queueTypeProblems([...queues.values()], jobs);
  const problems = typeProblems.length > 0 ? typeProblems : leaseProblems([...queues.values()], jobs, options.config.leaseMarginMs);
  if (problems.length > 0) throw new ConfigError(problems);
  const db = options.db ?? createDb(dbConfigFromEnv(env));
  const clock = options.clock ?? systemClock;
  const invoke =
    options.invokeDrain ??
    (env.DRAIN_FUNCTION_NAME ? lambdaInvoker({ functionName: env.DRAIN_FUNCTION_NAME, endpoint: env.LAMBDA_ENDPOINT, region: env.AWS_REGION }) : undefined);
  const scheduler = options.wakeScheduler ?? wakeSchedulerFromEnv(env);
  const log = createLogger();
  return {
    db,
    config: options.config,
    queues,
    jobs,
    clock,
    waker: invoke === undefined ? undefined : new Waker({ db, clock, invoke, queues: [...queues.keys()], log }),
    recurring: recurringState(options.config.recurring ?? []),
    timedWakes: scheduler === undefined ? undefined : new TimedWakes({ db, clock, scheduler, log }),
  };
}

/**
 * The App a Lambda handler uses, made on first use and kept for the life of the execution
 * environment (its SDK client and sockets are reused across invocations). Made lazily so that
 * importing a handler in a test does not need the deployment's environment.
 */
export function lazyApp<J extends AnyJobType>(options: AppOptions<J>): () => App<J> {
  let app: App<J> | undefined;
  return () => (app ??= createApp(options));
}
