import { runCli, type CliIo } from '../../cli/main.js';
import { configFor } from '../support/config.js';
import type { Stack } from '../support/stack.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process with its output captured; `env` replaces the process's. */
export async function runCaptured(args: readonly string[], env: NodeJS.ProcessEnv, io: Partial<CliIo> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    // The CLI's bin loads queue.config.ts, which reads the process environment; here, `env`.
    config: configFor(env),
    env,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    ...io,
  });
  return { code, stdout, stderr };
}

/** The variables that point the CLI at a test stack's database. */
export function stackEnv(stack: Stack, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { DATA_API_ENDPOINT: stack.endpoint, DB_NAME: stack.database, ...extra };
}

/** `--json` output, parsed; fails the test with the CLI's stderr when the command failed. */
export function json<T = any>(run: CliRun): T {
  if (run.code !== 0) throw new Error(`CLI exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
