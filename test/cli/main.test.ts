import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../cli/main.js';
import { freePort } from '../../dev/ports.js';
import { useStack } from '../support/stack.js';
import { runCaptured, stackEnv } from './helpers.js';

describe('usage', () => {
  it('lists every command with --help, and on stderr with exit 2 when none is given', async () => {
    const help = await runCaptured(['--help'], {});
    expect(help).toMatchObject({ code: 0, stderr: '' });
    for (const command of [
      'migrate',
      'enqueue',
      'status',
      'stats',
      'dead list',
      'dead redrive',
      'dead purge',
      'pause',
      'resume',
      'groups list',
      'groups set',
      'groups pause',
      'groups resume',
      'drain',
      'dashboard',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} +\\S`, 'm'));
    }
    const none = await runCaptured([], {});
    expect(none).toMatchObject({ code: 2, stdout: '', stderr: help.stdout });
  });

  it("shows a command's usage and options with --help, needing no configuration", async () => {
    for (const command of COMMANDS) {
      const run = await runCaptured([...command.name.split(' '), '--help'], { DB_CLUSTER_ARN: 'arn:aws:rds:us-east-1:1:cluster:x' });
      expect(run, command.name).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout).toContain(`usage: aurora-queue ${command.name}`);
      expect(run.stdout).toContain('--json');
    }
  });

  it("is the README's CLI block: every command is listed there", async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    const block = /\n## CLI\n[\s\S]*?```\n([\s\S]*?)```/.exec(readme)![1]!;
    for (const command of COMMANDS) {
      // `aurora-queue pause|resume <queue>` lists two.
      expect(block, command.name).toMatch(new RegExp(`^aurora-queue (\\S+\\|)*${command.name}(\\|\\S+)*( |$)`, 'm'));
    }
  });

  it('exits 2 with the usage for wrong arguments', async () => {
    expect(await runCaptured(['frobnicate'], {})).toMatchObject({
      code: 2,
      stderr: 'aurora-queue: unknown command "frobnicate"\nrun `aurora-queue --help` for the commands\n',
    });
    // A two-word command names its actions.
    expect(await runCaptured(['dead'], {})).toMatchObject({ code: 2, stderr: expect.stringContaining('dead needs an action: list, redrive or purge\n') });
    expect(await runCaptured(['groups'], {})).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('groups needs an action: list, set, pause or resume\n'),
    });
    expect(await runCaptured(['groups', 'bogus'], {})).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "groups bogus"') });
    expect(await runCaptured(['stats', '--bogus'], {})).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--bogus'") });
    expect(await runCaptured(['stats', '--limit', '3'], {})).toMatchObject({
      code: 2,
      stderr: 'aurora-queue: --limit is not an option of stats\nusage: aurora-queue stats [queue]\n',
    });
    expect(await runCaptured(['stats', 'a', 'b'], {})).toMatchObject({ code: 2, stderr: expect.stringContaining('unexpected argument "b"') });
    expect(await runCaptured(['enqueue', 'sms', 'sms.send'], {})).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('give a type and a payload, or --file'),
    });
    expect(await runCaptured(['drain', '--max-messages', 'many'], { LAMBDA_ENDPOINT: 'http://127.0.0.1:1' })).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--max-messages must be a whole number'),
    });
  });
});

describe('configuration and reachability', () => {
  const stack = useStack({ migrate: false });
  it('names the missing variables for an AWS target', async () => {
    const run = await runCaptured(['stats'], { DB_CLUSTER_ARN: 'arn:aws:rds:us-east-1:123456789012:cluster:q' });
    expect(run).toMatchObject({ code: 1, stderr: expect.stringContaining('Missing environment variables DB_SECRET_ARN, DB_NAME') });
  });

  it('says where it looked and how to start the local stack when the Data API is down', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const run = await runCaptured(['status', '0190a5b4-0000-7000-8000-000000000000'], { DATA_API_ENDPOINT: endpoint });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`cannot reach database aurora_queue via the local Data API at ${endpoint}`);
    expect(run.stderr).toContain('Start it with `npm start`');
  });

  it('suggests migrate when the schema is missing', async () => {
    const run = await runCaptured(['stats', 'sms'], stackEnv(stack));
    expect(run.code).toBe(1);
    // Stats reads the messages and the paused queues at once: whichever missing table answers first.
    expect(run.stderr).toMatch(/queue_(messages|state)' doesn't exist/);
    expect(run.stderr).toContain('Run `aurora-queue migrate`');
  });
});
