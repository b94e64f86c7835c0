/**
 * Lambda bundles as a deploy would build them (`serverless package`, serverless-esbuild): each
 * function's zipped size, and its module initialisation, timed by importing the unzipped bundle
 * in a fresh Node process (less the same process doing nothing), as a cold start would load it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { figure, type Figure } from '../lib/stats.js';

const run = promisify(execFile);
const projectDir = fileURLToPath(new URL('../..', import.meta.url));
const serverlessBin = join(projectDir, 'node_modules', 'serverless', 'bin', 'serverless.js');

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
  const dir = await mkdtemp(join(tmpdir(), 'aurora-queue-bench-package-'));
  const home = await mkdtemp(join(tmpdir(), 'aurora-queue-bench-home-'));
  // Its own esbuild work folder, so packaging here cannot collide with a `serverless offline` or a test.
  const workFolder = join('.esbuild', `bench-${process.pid}-${Date.now()}`);
  try {
    const started = performance.now();
    await run(process.execPath, [serverlessBin, 'package', '--stage', 'bench', '--package', dir], {
      cwd: projectDir,
      timeout: 300_000,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        AWS_ACCESS_KEY_ID: 'bench',
        AWS_SECRET_ACCESS_KEY: 'bench',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(home, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
        SLS_TELEMETRY_DISABLED: '1',
        SLS_TRACKING_DISABLED: '1',
        ESBUILD_WORK_FOLDER: workFolder,
      },
    });
    const packageMs = performance.now() - started;
    log(`  packaged in ${(packageMs / 1_000).toFixed(1)} s`);

    const template = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { FunctionName?: string; Handler?: string; Code?: { S3Key?: string } } }>;
    };
    const zips = (await readdir(dir)).filter((file) => file.endsWith('.zip')).sort();
    const handlers = new Map<string, string>();
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const key = resource.Properties.Code?.S3Key;
      if (key !== undefined && resource.Properties.Handler !== undefined) handlers.set(key.split('/').pop()!, resource.Properties.Handler);
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
          const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe, file], { env: { PATH: process.env.PATH ?? '', ...LAMBDA_ENV }, timeout: 30_000 });
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
    await rm(home, { recursive: true, force: true });
    await rm(join(projectDir, workFolder), { recursive: true, force: true });
  }
}

async function wallMs(args: string[]): Promise<number> {
  const started = performance.now();
  await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '' }, timeout: 30_000 });
  return performance.now() - started;
}
