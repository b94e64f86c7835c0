/**
 * CPU time spent by each process of the stack during a measurement (Linux /proc), so a figure
 * comes with where its time went: the client (this process), the Data API server, MariaDB.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;

export interface CpuSample {
  [process: string]: number;
}

/** CPU milliseconds (user + system) of `pid` so far; NaN when it cannot be read. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which may itself hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

export function findMariadbPid(): number | undefined {
  for (const name of ['mariadbd', 'mysqld']) {
    try {
      const out = execFileSync('pgrep', ['-x', name], { encoding: 'utf8' }).trim();
      const pid = Number(out.split('\n')[0]);
      if (pid > 0) return pid;
    } catch {
      // not running under this name
    }
  }
  return undefined;
}

/** Starts counting CPU for the named processes; `stop()` answers the milliseconds each used. */
export function cpuMeter(pids: Record<string, number | undefined>): { stop(): CpuSample } {
  const start = Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? Number.NaN : cpuMs(pid)]));
  return {
    stop: () => Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, pid === undefined ? Number.NaN : cpuMs(pid) - start[name]!])),
  };
}
