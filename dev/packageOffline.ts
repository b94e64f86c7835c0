/**
 * `serverless package` as a deploy would run it (osls + serverless-esbuild), with an environment
 * stripped of credentials and pointed away from any profile or instance metadata: packaging needs
 * neither, and every caller of this proves it again. Used by the CloudFormation test and by the
 * benchmark's bundle measurements.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const projectDir = fileURLToPath(new URL('..', import.meta.url));
const serverlessBin = join(projectDir, 'node_modules', 'serverless', 'bin', 'serverless.js');

export interface CloudFormationResource {
  Type: string;
  Condition?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed template JSON: tests and the bench read each resource type's own properties deep
  Properties: Record<string, any>;
}

export interface CloudFormationTemplate {
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CloudFormationResource>;
}

export interface PackagedService {
  /** The package folder: one zip per function and the CloudFormation templates. */
  dir: string;
  template: CloudFormationTemplate;
}

export interface PackageOptions {
  stage: string;
  /** serverless.yml parameters, as `--param=name=value`. */
  params?: Record<string, string>;
  timeoutMs?: number;
}

/** Packages the service into a new temporary folder; the caller removes `dir` when done. */
export async function packageOffline(options: PackageOptions): Promise<PackagedService> {
  const dir = await mkdtemp(join(tmpdir(), 'aurora-queue-package-'));
  const home = await mkdtemp(join(tmpdir(), 'aurora-queue-home-'));
  // Its own esbuild work folder, so packaging cannot collide with a running `serverless offline`.
  const workFolder = join('.esbuild', `package-${options.stage}-${process.pid}-${Date.now()}`);
  const args = [serverlessBin, 'package', '--stage', options.stage, '--package', dir];
  for (const [name, value] of Object.entries(options.params ?? {})) args.push(`--param=${name}=${value}`);
  try {
    await run(process.execPath, args, {
      cwd: projectDir,
      timeout: options.timeoutMs ?? 300_000,
      maxBuffer: 16 * 1024 * 1024,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: home,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(home, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
        ESBUILD_WORK_FOLDER: workFolder,
      },
    });
  } finally {
    await rm(home, { recursive: true, force: true });
    await rm(join(projectDir, workFolder), { recursive: true, force: true });
  }
  const template = JSON.parse(await readFile(join(dir, 'cloudformation-template-update-stack.json'), 'utf8')) as CloudFormationTemplate;
  return { dir, template };
}
