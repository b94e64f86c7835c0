/**
 * Child processes that end with their parent: each runs as the leader of its own process group,
 * and stopping it signals the whole group, so whatever it started (serverless offline's workers,
 * esbuild) goes too. A group of its own also keeps a terminal's Ctrl-C from reaching it directly;
 * the parent decides the order things stop in.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export interface ProcessGroup {
  name: string;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the leader exits. */
  exited: Promise<number | string>;
  /** Signals the group, waits, then kills whatever is left; resolves when the group is gone. Safe to call twice. */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<void>;
}

export function spawnProcessGroup(name: string, command: string, args: readonly string[], options: Omit<SpawnOptions, 'detached'>): ProcessGroup {
  const child = spawn(command, [...args], { ...options, detached: true });
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    // A command that cannot start (ENOENT) emits 'error' and never 'exit'.
    child.once('error', () => resolve('spawn failed'));
  });
  let stopping: Promise<void> | undefined;
  return {
    name,
    child,
    exited,
    stop(stopOptions = {}) {
      stopping ??= stopGroup(child, exited, stopOptions.signal ?? 'SIGTERM', stopOptions.graceMs ?? 5_000);
      return stopping;
    },
  };
}

async function stopGroup(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  if (child.exitCode === null && child.signalCode === null) {
    signalGroup(pid, signal);
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      exited.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      signalGroup(pid, 'SIGKILL');
      await exited;
    }
  }
  // The leader is gone; anything it left in its group is not wanted either. A killed process
  // lingers for a moment, so wait (briefly) until the group is really empty.
  signalGroup(pid, 'SIGKILL');
  for (let waited = 0; groupAlive(pid) && waited < 2_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Whether any process of the group is still alive. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
