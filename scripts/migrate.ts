/**
 * `npm run migrate`: applies schema/migrations through the Data API. With no configuration it
 * targets the local stack (`npm run data-api` on :8087, database aurora_queue) and creates the
 * database first; with DB_CLUSTER_ARN/DB_SECRET_ARN/DB_NAME (and no DATA_API_ENDPOINT) it targets AWS.
 */
import { createDataApiClient, createDb, DataApiUnavailableError, dbConfigFromEnv } from '../lib/db/index.js';
import { migrate } from '../lib/migrate.js';
import { createDatabase } from '../lib/sql/databases.js';

const LOCAL_ENDPOINT = 'http://127.0.0.1:8087';

async function main(): Promise<void> {
  const env = { ...process.env };
  if (!env.DATA_API_ENDPOINT && !env.DB_CLUSTER_ARN) env.DATA_API_ENDPOINT = LOCAL_ENDPOINT;
  const config = dbConfigFromEnv(env);
  const client = createDataApiClient({ endpoint: config.endpoint });
  try {
    console.log(`migrating ${config.database} via ${config.endpoint ?? 'the RDS Data API'} (${config.resourceArn})`);
    if (config.endpoint !== undefined) {
      // Only locally: on AWS the database belongs to the cluster's deployment, and a typo in
      // DB_NAME should fail rather than create an empty database.
      await createDatabase(createDb({ ...config, database: undefined, client }), config.database);
    }
    const result = await migrate(createDb({ ...config, client }), { log: (line) => console.log(line) });
    console.log(
      result.applied.length === 0
        ? `up to date (${result.skipped.length} already applied)`
        : `applied ${result.applied.join(', ')}; ${result.skipped.length} already applied`,
    );
  } finally {
    client.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(`migrate failed: ${error instanceof Error ? error.message : String(error)}`);
  if (error instanceof DataApiUnavailableError && !process.env.DB_CLUSTER_ARN)
    console.error('Is the local Data API running? Start it with `npm run data-api`.');
  process.exitCode = 1;
});
