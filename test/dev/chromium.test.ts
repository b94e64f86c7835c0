import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { describe, expect, it } from 'vitest';
import { ChromiumMissingError, ensureChromium, type CommandRunner } from '../../dev/chromium.js';
import { runsBrowserTests } from '../support/globalSetup.js';
import { ROOT } from '../scripts/helpers.js';

const PATH = '/usr/bin/chromium';

/** A machine where `installs` decides whether apt-get succeeds and puts the browser in place. */
function fakeMachine(options: { present?: boolean; installs?: boolean } = {}) {
  let present = options.present ?? false;
  const calls: { command: string; args: readonly string[]; frontend: string | undefined }[] = [];
  const run: CommandRunner = async (command, args, env) => {
    calls.push({ command, args, frontend: env.DEBIAN_FRONTEND });
    if (options.installs === false) return { code: 100, output: 'E: Unable to locate package chromium' };
    if (args[0] === 'install') present = true;
    return { code: 0, output: '' };
  };
  return { calls, run, exists: (path: string) => path === PATH && present };
}

describe('ensureChromium', () => {
  it('does nothing when Chromium is there', async () => {
    const machine = fakeMachine({ present: true });
    const lines: string[] = [];
    expect(
      await ensureChromium({ log: (line) => lines.push(line), path: PATH, exists: machine.exists, isRoot: false, hasAptGet: false, run: machine.run }),
    ).toBe('present');
    expect(machine.calls).toEqual([]);
    expect(lines).toEqual([]);
  });

  it("installs Debian's chromium with apt as root, saying so", async () => {
    const machine = fakeMachine();
    const lines: string[] = [];
    expect(await ensureChromium({ log: (line) => lines.push(line), path: PATH, exists: machine.exists, isRoot: true, hasAptGet: true, run: machine.run })).toBe(
      'installed',
    );
    expect(machine.calls).toEqual([
      { command: 'apt-get', args: ['update', '-qq'], frontend: 'noninteractive' },
      { command: 'apt-get', args: ['install', '-y', '-qq', 'chromium'], frontend: 'noninteractive' },
    ]);
    expect(lines[0]).toBe(
      "Chromium is missing at /usr/bin/chromium; installing Debian's chromium package: DEBIAN_FRONTEND=noninteractive apt-get update -qq && apt-get install -y -qq chromium",
    );
  });

  it('fails at once with the command to run when not root', async () => {
    const machine = fakeMachine();
    const error = await ensureChromium({ log: () => {}, path: PATH, exists: machine.exists, isRoot: false, hasAptGet: true, run: machine.run }).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ChromiumMissingError);
    expect((error as Error).message).toContain('Chromium is not installed at /usr/bin/chromium. Installing it needs root.');
    expect((error as Error).message).toContain('sudo apt-get update && sudo apt-get install -y chromium');
    expect(machine.calls).toEqual([]);
  });

  it('fails at once with the command to run where there is no apt-get', async () => {
    const machine = fakeMachine();
    const error = await ensureChromium({ log: () => {}, path: PATH, exists: machine.exists, isRoot: true, hasAptGet: false, run: machine.run }).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ChromiumMissingError);
    expect((error as Error).message).toContain('This machine has no apt-get');
    expect((error as Error).message).toContain('sudo apt-get update && sudo apt-get install -y chromium');
    expect(machine.calls).toEqual([]);
  });

  it('reports a failed install with what apt-get said', async () => {
    const machine = fakeMachine({ installs: false });
    const error = await ensureChromium({ log: () => {}, path: PATH, exists: machine.exists, isRoot: true, hasAptGet: true, run: machine.run }).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(ChromiumMissingError);
    expect((error as Error).message).toContain('`apt-get update -qq` failed (exit 100):\n  E: Unable to locate package chromium');
  });
});

describe("npm test's globalSetup", () => {
  /** A project whose file filter answers these files, as Vitest's would for its command line. */
  function projectWith(files: string[], seen: (string[] | undefined)[]): TestProject {
    const vitest = { filenamePattern: ['some/filter'] };
    return {
      vitest,
      globTestFiles: async (filters?: string[]) => {
        seen.push(filters);
        return { testFiles: files.map((file) => join(ROOT, file)), typecheckTestFiles: [] };
      },
    } as unknown as TestProject;
  }

  it('asks for Chromium only when the run includes a test that launches it', async () => {
    const seen: (string[] | undefined)[] = [];
    expect(await runsBrowserTests(projectWith(['test/dev/processGroup.test.ts', 'test/cli/dashboard/server.test.ts', 'test/dev/chromium.test.ts'], seen))).toBe(
      false,
    );
    expect(await runsBrowserTests(projectWith(['test/dev/processGroup.test.ts', 'test/cli/dashboard/browser.test.ts'], seen))).toBe(true);
    expect(seen).toEqual([['some/filter'], ['some/filter']]);
  });
});
