import type { RDSDataClient } from '@aws-sdk/client-rds-data';
import { createApp, type App } from '../lib/app.js';
import type { QueueAppConfig } from '../lib/config.js';
import { createDataApiClient, createDb } from '../lib/db/index.js';
import type { Db } from '../lib/db/types.js';
import type { Options } from './args.js';
import { resolveTarget, type Target } from './target.js';

export interface Output {
  write(text: string): unknown;
}

/** Where the CLI reads and writes; the bin passes the process's, tests pass their own. */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  stdout: Output;
  stderr: Output;
  /** For `enqueue --file -`. */
  stdin?: AsyncIterable<string | Buffer>;
  /**
   * For a command that stops gracefully on Ctrl-C (an in-process drain gives its messages back):
   * calling it tells the bin not to exit on the first Ctrl-C but to abort the returned signal.
   */
  interruptSignal?: () => AbortSignal;
  /** The team's queue.config.ts (tests pass their own). */
  config: QueueAppConfig;
}

/**
 * One command's run: its arguments, its output, and the App, made on first use so that commands
 * which never touch the database (drain through Lambda, --help) need no database configuration.
 */
export class CliContext {
  readonly io: CliIo;
  readonly options: Options;
  readonly positionals: readonly string[];
  #target: Target | undefined;
  #client: RDSDataClient | undefined;
  #app: App | undefined;

  constructor(io: CliIo, options: Options, positionals: readonly string[]) {
    this.io = io;
    this.options = options;
    this.positionals = positionals;
  }

  get json(): boolean {
    return this.options.json === true;
  }

  get target(): Target {
    return (this.#target ??= resolveTarget(this.io.env));
  }

  app(): App {
    return (this.#app ??= createApp({ config: this.io.config, env: this.target.env, db: this.newDb(this.target.db.database) }));
  }

  /** A Db on the target's cluster; `undefined` for statements that name their database. */
  newDb(database: string | undefined): Db {
    this.#client ??= createDataApiClient({ endpoint: this.target.db.endpoint, region: this.io.env.AWS_REGION });
    return createDb({ ...this.target.db, database, client: this.#client });
  }

  print(text: string): void {
    this.io.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  printJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  warn(text: string): void {
    this.io.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  close(): void {
    this.#client?.destroy();
  }
}
