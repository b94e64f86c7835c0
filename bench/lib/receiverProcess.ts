/** The 204 receiver (`receiver.ts`) in its own process, as a real receiver is not in the drain's event loop. */
import { stopChild } from './child.js';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const projectDir = fileURLToPath(new URL('../..', import.meta.url));

export interface Receiver {
  url: string;
  pid: number;
  /** Requests answered so far. */
  count(): Promise<number>;
  close(): Promise<void>;
}

export async function startReceiverProcess(): Promise<Receiver> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/receiver.ts'], { cwd: projectDir, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => {
      lines.close();
      resolve(line.trim());
    });
    child.once('exit', (code) => reject(new Error(`receiver exited with ${code} before listening`)));
  });
  return {
    url,
    pid: child.pid!,
    count: async () => Number(await (await fetch(`${url}/_count`)).text()),
    close: () => stopChild(child),
  };
}
