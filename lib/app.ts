import { systemClock, type Clock } from './clock.js';
import { createDb, dbConfigFromEnv } from './db/index.js';
import type { Db } from './db/types.js';
import { builtInJobTypes, JobRegistry } from './jobs/index.js';
import type { JobType } from './jobs/types.js';
import { resolveQueues, type QueueConfig, type QueueDeclaration } from './queues.js';

/** What handlers and the CLI work with: the database, the declared queues and job types, a clock. */
export interface App {
  db: Db;
  queues: Map<string, QueueConfig>;
  jobs: JobRegistry;
  clock: Clock;
}

export interface AppOptions {
  db?: Db;
  env?: NodeJS.ProcessEnv;
  queues?: readonly QueueDeclaration[];
  jobTypes?: readonly JobType<any>[];
  clock?: Clock;
}

export function createApp(options: AppOptions = {}): App {
  const env = options.env ?? process.env;
  return {
    db: options.db ?? createDb(dbConfigFromEnv(env)),
    queues: resolveQueues(options.queues, env),
    jobs: new JobRegistry(options.jobTypes ?? builtInJobTypes(env)),
    clock: options.clock ?? systemClock,
  };
}

/**
 * The App a Lambda handler uses, made on first use and kept for the life of the execution
 * environment (its SDK client and sockets are reused across invocations). Made lazily so that
 * importing a handler in a test does not need the deployment's environment.
 */
export function lazyApp(options: AppOptions = {}): () => App {
  let app: App | undefined;
  return () => (app ??= createApp(options));
}
