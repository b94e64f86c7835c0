/**
 * Debian's Chromium driven by playwright-core, for the dashboard's browser tests and screenshots.
 * Playwright's own browser downloads are never used: the package manager installs the browser
 * (`npm test` does it itself where it can, see ensureChromium), so tests fetch nothing else.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { tail } from './outputTail.js';

export const CHROMIUM_PATH = '/usr/bin/chromium';

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The command that installs the browser, as ensureChromium runs it (as root). */
export const INSTALL_CHROMIUM = 'DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq chromium';

export class ChromiumMissingError extends Error {
  constructor(path: string, detail = '') {
    super(`Chromium is not installed at ${path}.${detail}\n${howToInstall()}`);
    this.name = 'ChromiumMissingError';
  }
}

function howToInstall(): string {
  return [
    "Install Debian's chromium package, then run this again:",
    '  sudo apt-get update && sudo apt-get install -y chromium',
    '(`npm test` runs this itself when it runs as root on a machine with apt-get.)',
  ].join('\n');
}

/** What a command printed and how it ended; the default runs it with its output captured. */
export type CommandRunner = (command: string, args: readonly string[], env: NodeJS.ProcessEnv) => Promise<{ code: number; output: string }>;

export interface EnsureChromiumOptions {
  log: (line: string) => void;
  path?: string;
  exists?: (path: string) => boolean;
  isRoot?: boolean;
  /** Whether apt-get is on PATH; default: looked up. */
  hasAptGet?: boolean;
  run?: CommandRunner;
}

/**
 * Chromium at `path`, installed with apt when it is missing and this process may (root, apt-get);
 * otherwise a ChromiumMissingError that names the command to run. Says what it installs: apt takes
 * a minute or two, and a silent pause would look like a hang.
 */
export async function ensureChromium(options: EnsureChromiumOptions): Promise<'present' | 'installed'> {
  const path = options.path ?? CHROMIUM_PATH;
  const exists = options.exists ?? existsSync;
  if (exists(path)) return 'present';
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const hasAptGet = options.hasAptGet ?? onPath('apt-get');
  if (!hasAptGet) throw new ChromiumMissingError(path, ' This machine has no apt-get: the browser tests need a Debian or Ubuntu machine.');
  if (!isRoot) throw new ChromiumMissingError(path, ' Installing it needs root.');

  const run = options.run ?? runCaptured;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  options.log(`Chromium is missing at ${path}; installing Debian's chromium package: ${INSTALL_CHROMIUM}`);
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', 'chromium'],
  ]) {
    const { code, output } = await run('apt-get', args, env);
    if (code !== 0) throw new ChromiumMissingError(path, ` \`apt-get ${args.join(' ')}\` failed (exit ${code}):\n${tail(output)}`);
  }
  if (!exists(path)) throw new ChromiumMissingError(path, ` apt-get installed chromium, but not at ${path}.`);
  options.log(`Chromium installed at ${path}`);
  return 'installed';
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, command)));
}

const runCaptured: CommandRunner = (command, args, env) =>
  new Promise((resolve) => {
    const child = spawn(command, [...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => resolve({ code: 127, output: `${output}${error.message}` }));
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), output }));
  });

export interface Chromium {
  context: BrowserContext;
  /** Closes the browser and deletes its profile. */
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile of its own. */
export async function launchChromium(options: { viewport?: { width: number; height: number } } = {}): Promise<Chromium> {
  if (!existsSync(CHROMIUM_PATH)) throw new ChromiumMissingError(CHROMIUM_PATH);
  // Playwright takes the profile directory itself (it refuses --user-data-dir among the args).
  const profile = await mkdtemp(join(tmpdir(), 'aq-chromium-'));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: ARGS,
      viewport: options.viewport ?? { width: 1280, height: 800 },
    });
    return {
      context,
      async close() {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
}
