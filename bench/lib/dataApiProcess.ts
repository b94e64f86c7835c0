/**
 * The local Data API server in its own process (`dev/data-api/main.ts` under tsx's loader),
 * so the server and the code under test do not share one event loop: in AWS they do not share a
 * machine either, and a shared loop would charge the server's CPU to the client's latency.
 */
import { stopChild } from './child.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const projectDir = fileURLToPath(new URL('../..', import.meta.url));

export interface ServerStats {
  calls: number;
  byOperation: Record<string, number>;
  openTransactions: number;
  faultsInjected: number;
}

/** What the benchmark and the chaos suite need from a Data API server, wherever it runs. */
export interface DataApiServer {
  url: string;
  /** The server's process id, for CPU accounting; this process's own id when in-process. */
  pid: number;
  setLatency(ms: number): Promise<void>;
  stats(): Promise<ServerStats>;
  injectFault(rule: Record<string, unknown>): Promise<void>;
  clearFaults(): Promise<void>;
  close(): Promise<void>;
}

export interface DataApiProcessOptions {
  databaseUrl: string;
  latencyMs?: number;
  /** Passed to node, e.g. ['--cpu-prof']. */
  nodeArgs?: string[];
}

export async function startDataApiProcess(options: DataApiProcessOptions): Promise<DataApiServer> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'dev/data-api/main.ts'], {
    cwd: projectDir,
    env: {
      ...process.env,
      LOCAL_DATA_API_PORT: '0',
      LOCAL_DATA_API_LATENCY_MS: String(options.latencyMs ?? 0),
      DATABASE_URL: options.databaseUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await listeningUrl(child);
  return adminClient(url, child.pid!, () => stopChild(child));
}

/** The `/_local/*` endpoints of a server at `url`. */
export function adminClient(url: string, pid: number, close: () => Promise<void>): DataApiServer {
  const call = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };
  return {
    url,
    pid,
    setLatency: async (ms) => {
      await call('POST', '/_local/latency', { ms });
    },
    stats: async () => (await call('GET', '/_local/stats')) as ServerStats,
    injectFault: async (rule) => {
      await call('POST', '/_local/faults', rule);
    },
    clearFaults: async () => {
      await call('DELETE', '/_local/faults');
    },
    close,
  };
}

function listeningUrl(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`local Data API did not start within 30 s:\n${output}`)), 30_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    // Keep draining stderr so the child never blocks on a full pipe; show it if startup fails.
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      output += chunk;
    });
    child.once('exit', (code, signal) => fail(new Error(`local Data API exited (${code ?? signal}) before listening:\n${output}`)));
  });
}
