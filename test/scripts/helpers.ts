import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Script {
  child: ChildProcess;
  output(): string;
  /** Resolves when the output matches; rejects if the script exits first or time runs out. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
  /** What a terminal's Ctrl-C does: SIGINT to every process of the foreground group. */
  interrupt(): void;
}

/** Runs an npm script as a terminal would: its own process group, output captured. */
export function runNpmScript(args: readonly string[], env: NodeJS.ProcessEnv): Script {
  const child = spawn('npm', ['run', '--silent', ...args], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    interrupt: () => process.kill(-child.pid!, 'SIGINT'),
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = pattern.exec(output);
          if (match) {
            done();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${pattern} after ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        void exited.then((code) => {
          if (!listeners.has(check)) return;
          done();
          reject(new Error(`exited (${code}) before ${pattern}:\n${output}`));
        });
        const done = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Kills whatever is left of a script's process group (after a failed test). */
export function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // gone already
  }
}

/**
 * Processes whose environment carries `marker`: everything a script started inherits it. Linux
 * only (/proc); elsewhere answers undefined and the caller skips the check.
 */
export function processesWithMarker(marker: string): number[] | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  return pids.flatMap((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'latin1').includes(marker) ? [Number(pid)] : [];
    } catch {
      return [];
    }
  });
}
