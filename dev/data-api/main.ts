/**
 * `npm run data-api`: the local Data API server on 127.0.0.1.
 * LOCAL_DATA_API_PORT (default 8087), DATABASE_URL (default mysql://root@127.0.0.1:3306),
 * LOCAL_DATA_API_LATENCY_MS (default 0).
 */
import { startLocalDataApi } from './server.js';

const databaseUrl = process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306';
const api = await startLocalDataApi({
  host: '127.0.0.1',
  port: Number(process.env.LOCAL_DATA_API_PORT ?? 8087),
  databaseUrl,
  latencyMs: Number(process.env.LOCAL_DATA_API_LATENCY_MS ?? 0),
  rowLimit: process.env.LOCAL_DATA_API_ROW_LIMIT !== 'off',
});

const mysqlHost = new URL(databaseUrl).host; // never print the password
console.log(`Local RDS Data API listening on ${api.url} (MySQL at ${mysqlHost})`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    api.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
