import { join } from 'node:path';
import { lazyApp, type App } from '../lib/app.js';
import { appUserFromEnv, ensureAppUser, type AppUserOptions, type AppUserResult } from '../lib/appUser.js';
import { migrate, type MigrateOptions, type MigrateResult } from '../lib/migrate.js';
import { createLogger } from '../lib/observability.js';
import config from '../queue.config.js';

const logger = createLogger();

export interface MigrateHandlerDeps {
  log?: { info(message: string, attributes?: Record<string, unknown>): void };
  /** Where the migrations come from; by default the .sql files shipped beside the bundle. */
  migrations?: Pick<MigrateOptions, 'dir' | 'migrations'>;
  /** The application user's secret; by default DB_APP_SECRET_ARN, read from Secrets Manager (lib/appUser.ts). */
  appUser?: AppUserOptions;
}

/**
 * Applies schema/migrations through the Data API: `serverless invoke --function migrate` after
 * each deploy. Answers which versions it applied and which were there already; a failure is
 * thrown, so the invoke reports it as a function error and the deploy pipeline stops.
 * Safe to invoke twice at once (lib/migrate.ts lets one run apply each version).
 */
export function createMigrateHandler(getApp: () => App, deps: MigrateHandlerDeps = {}) {
  const log = deps.log ?? logger;
  return async (): Promise<MigrateResult & { appUser?: AppUserResult }> => {
    const source = deps.migrations ?? offlineMigrations(process.env);
    const result = await migrate(getApp().db, { ...source, log: (line) => log.info(line) });
    log.info('migrations up to date', { applied: result.applied, skipped: result.skipped });
    // After the migrations, so that the grants cover every table they made.
    const appUser = await ensureAppUser(getApp().db, deps.appUser ?? appUserFromEnv(process.env), (line) => log.info(line));
    return appUser === undefined ? result : { ...result, appUser };
  };
}

/**
 * Under serverless offline the default places hold no .sql files: LAMBDA_TASK_ROOT is /var/task,
 * which does not exist locally, and the bundle runs out of .esbuild, where the function's package
 * patterns are not copied. Its working directory is the project, which has them.
 */
function offlineMigrations(env: NodeJS.ProcessEnv): Pick<MigrateOptions, 'dir'> {
  return env.IS_OFFLINE === 'true' && !env.MIGRATIONS_DIR ? { dir: join(process.cwd(), 'schema', 'migrations') } : {};
}

export const handler = createMigrateHandler(lazyApp({ config }));
