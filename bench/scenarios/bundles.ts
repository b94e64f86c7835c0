/**
 * Lambda bundles as a deploy would build them (`serverless package`, serverless-esbuild): each
 * function's zipped size, and its module initialisation, timed by importing the unzipped bundle
 * in a fresh Node process (less the same process doing nothing), as a cold start would load it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageOffline } from '../../dev/packageOffline.js';
import { figure, type Figure } from '../lib/stats.js';

const run = promisify(execFile);

export interface BundleResult {
  name: string;
  zipBytes: number;
  /** Wall time of `node -e "await import(bundle)"` less `node -e ""`, per repetition. */
  initMs: Figure;
  /** The import alone, timed inside the process: a cross-check without process start-up noise. */
  importMs: Figure;
}

export interface BundlesResult {
  packageMs: number;
  bundles: BundleResult[];
}

/** What a handler module may read at load time; no credentials, no reachable endpoint. */
const LAMBDA_ENV = {
  DB_CLUSTER_ARN: 'arn:aws:rds:us-east-1:123456789012:cluster:bench',
  DB_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-AbCdEf',
  DB_NAME: 'aurora_queue',
  DATA_API_ENDPOINT: 'http://127.0.0.1:9',
  AWS_REGION: 'us-east-1',
  POWERTOOLS_SERVICE_NAME: 'aurora-queue-bench',
  POWERTOOLS_METRICS_NAMESPACE: 'AuroraQueueBench',
};

export async function measureBundles(reps: number, log: (line: string) => void): Promise<BundlesResult> {
  const started = performance.now();
  const { dir, template } = await packageOffline({ stage: 'bench' });
  try {
    const packageMs = performance.now() - started;
    log(`  packaged in ${(packageMs / 1_000).toFixed(1)} s`);

    const zips = (await readdir(dir)).filter((file) => file.endsWith('.zip')).sort();
    const handlers = new Map<string, string>();
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const key = resource.Properties.Code?.S3Key;
      if (key !== undefined && resource.Properties.Handler !== undefined) handlers.set(key.split('/').pop(), resource.Properties.Handler as string);
    }

    const baseline: number[] = [];
    const bundles: BundleResult[] = [];
    for (const zip of zips) {
      const name = zip.replace(/\.zip$/, '');
      const handler = handlers.get(zip);
      if (handler === undefined) throw new Error(`no function in the template uses ${zip}`);
      const extracted = await mkdtemp(join(tmpdir(), `aurora-queue-bench-${name}-`));
      try {
        await run('unzip', ['-q', join(dir, zip), '-d', extracted]);
        const file = join(extracted, handler.replace(/\.[^.]+$/, '.mjs'));
        const init: number[] = [];
        const imports: number[] = [];
        for (let rep = 0; rep < reps; rep++) {
          baseline.push(await wallMs(['-e', '']));
          const probe =
            'const t = performance.now(); const m = await import(process.argv[1]); ' +
            'if (typeof m.handler !== "function") process.exit(3); console.log(performance.now() - t);';
          const started = performance.now();
          const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe, file], {
            env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV },
            timeout: 30_000,
          });
          init.push(performance.now() - started);
          imports.push(Number(stdout.trim()));
        }
        const baselineMedian = figure(baseline).median;
        bundles.push({
          name,
          zipBytes: (await stat(join(dir, zip))).size,
          initMs: figure(init.map((ms) => ms - baselineMedian)),
          importMs: figure(imports),
        });
      } finally {
        await rm(extracted, { recursive: true, force: true });
      }
    }
    return { packageMs, bundles };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function wallMs(args: string[]): Promise<number> {
  const started = performance.now();
  await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
  return performance.now() - started;
}
