import { describe, expect, it } from 'vitest';
import { createApp } from '../../../lib/app.js';
import { defineConfig } from '../../../lib/config.js';
import { enqueue } from '../../../lib/enqueue.js';
import { jobType } from '../../drain/helpers.js';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';

const stack = useStack();

/** Grouped queues, one per test that counts messages (the tests share a database), and a plain one. */
const config = defineConfig({
  queues: [
    { name: 'tenants', groups: { concurrency: 2, fair: true } },
    { name: 'tenants-json', groups: { concurrency: 2, fair: true } },
    { name: 'tenants-drain', groups: { concurrency: 2, ratePerSecond: 10 } },
    { name: 'plain' },
  ],
  jobTypes: [jobType('t', async () => {})],
});
const groups = (...args: string[]) => runCaptured(['groups', ...args], stackEnv(stack), { config });

async function enqueueTo(queue: string, counts: Record<string, number>): Promise<void> {
  await enqueue(
    createApp({ db: stack.db, env: {}, config }),
    queue,
    Object.entries(counts).flatMap(([groupKey, count]) => Array.from({ length: count }, () => ({ type: 't', payload: {}, groupKey }))),
  );
}

describe('groups list', () => {
  it('prints the queue’s per-group limits, the groups with the most backlog, and the paused or set ones', async () => {
    await enqueueTo('tenants', { big: 5, small: 2, acme: 1 });
    expect((await groups('set', 'tenants', 'acme', '--concurrency', '5')).code).toBe(0);
    expect((await groups('pause', 'tenants', 'quiet')).code).toBe(0);

    const run = await groups('list', 'tenants');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('queue tenants, per group: concurrency 2, rate –, fair yes');
    const top = lines.indexOf('most backlog:');
    expect(lines[top + 1]).toMatch(/^group +unfinished +running +state +concurrency +rate +limits$/);
    expect(lines.slice(top + 3, top + 6)).toEqual([
      expect.stringMatching(/^big +5 +0 +idle +2 +– +queue's$/),
      expect.stringMatching(/^small +2 +0 +idle +2 +– +queue's$/),
      expect.stringMatching(/^acme +1 +0 +idle +5 +– +own concurrency$/),
    ]);
    const set = lines.indexOf('paused or with limits of their own:');
    expect(set).toBeGreaterThan(top);
    expect(lines.slice(set + 3, set + 5)).toEqual([
      expect.stringMatching(/^acme +1 +0 +idle +5 +– +own concurrency$/),
      expect.stringMatching(/^quiet +0 +0 +paused +2 +– +queue's$/),
    ]);
  });

  it('lists --limit groups, and the lists as they are with --json', async () => {
    await enqueueTo('tenants-json', { big: 5, small: 2, acme: 1 });
    expect((await groups('set', 'tenants-json', 'acme', '--concurrency', '5')).code).toBe(0);
    expect((await groups('pause', 'tenants-json', 'quiet')).code).toBe(0);
    const list = json(await groups('list', 'tenants-json', '--limit', '1', '--json'));
    expect(list).toMatchObject({
      queue: 'tenants-json',
      declared: { concurrency: 2, ratePerSecond: null, fair: true },
      top: [{ groupKey: 'big', unfinished: 5, running: 0, paused: false, state: 'idle', concurrency: 2, ratePerSecond: null }],
      set: [{ groupKey: 'acme' }, { groupKey: 'quiet', paused: true }],
    });
    expect(list.top).toHaveLength(1);
  });

  it('says so when no group has messages or settings', async () => {
    const run = await groups('list', 'tenants-drain');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      'queue tenants-drain, per group: concurrency 2, rate 10/s, fair no\n\nno group has unfinished messages\n\nno group is paused or has limits of its own\n',
    );
  });
});

describe('groups set', () => {
  it('gives a group its own concurrency and rate, and default gives it the queue’s back', async () => {
    expect(await groups('set', 'tenants', 'globex', '--concurrency', '4', '--rate', '2.5')).toMatchObject({
      code: 0,
      stdout: 'group globex of tenants: concurrency 4 (own), rate 2.5/s (own)\n',
    });
    expect(await groups('set', 'tenants', 'globex', '--concurrency', 'default')).toMatchObject({
      code: 0,
      stdout: "group globex of tenants: concurrency 2 (queue's), rate 2.5/s (own)\n",
    });
    expect(json(await groups('set', 'tenants', 'globex', '--rate', 'DEFAULT', '--json'))).toEqual({
      groupKey: 'globex',
      unfinished: 0,
      running: 0,
      paused: false,
      concurrency: 2,
      ratePerSecond: null,
      overridden: { concurrency: false, ratePerSecond: false },
      state: 'idle',
    });
  });

  it('exits 2 naming the option and its rule for a value that cannot be a limit, and changes nothing', async () => {
    const refused = async (args: string[], stderr: string) => {
      const run = await groups('set', 'tenants', 'initech', ...args);
      expect(run, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(run.stderr, args.join(' ')).toBe(
        `aurora-queue: ${stderr}\nusage: aurora-queue groups set <queue> <groupKey> [--concurrency <n>|default] [--rate <r>|default]\n`,
      );
    };
    await refused(['--concurrency', '0'], '--concurrency must be a whole number of at least 1, got "0"');
    await refused(['--concurrency', '-3'], '--concurrency must be a whole number of at least 1, got "-3"');
    await refused(['--concurrency', '1.5'], '--concurrency must be a whole number of at least 1, got "1.5"');
    await refused(['--concurrency', '20000'], '--concurrency must be at most 10000, got "20000"');
    await refused(['--concurrency', 'two'], '--concurrency must be a number, or default for the queue\'s own, got "two"');
    await refused(['--rate', '0'], '--rate must be a positive number, got "0"');
    await refused(['--rate', '5000'], '--rate must be at most 1000, got "5000"');
    await refused(['--rate', '1e3'], '--rate must be a number, or default for the queue\'s own, got "1e3"');
    await refused([], "give --concurrency or --rate (a number, or default for the queue's own)");
    expect(json(await groups('list', 'tenants', '--json')).set.map((g: { groupKey: string }) => g.groupKey)).not.toContain('initech');
  });
});

describe('groups pause and resume', () => {
  it("holds a paused group's messages while the drain runs the other groups, until resumed", async () => {
    await enqueueTo('tenants-drain', { a: 2, b: 2 });
    expect(await groups('pause', 'tenants-drain', 'a')).toMatchObject({
      code: 0,
      stdout: 'group a of tenants-drain paused: drains start none of its messages (2 unfinished) until `groups resume tenants-drain a`\n',
    });
    const statuses = async () => {
      const [rows] = (await stack.sql.query(
        "SELECT group_key, status, COUNT(*) AS n FROM queue_messages WHERE queue = 'tenants-drain' GROUP BY group_key, status ORDER BY group_key",
      )) as any[];
      return rows.map((row: { group_key: string; status: string; n: number }) => `${row.group_key} ${row.status} ${row.n}`);
    };
    const drain = () => runCaptured(['drain', '--in-process', '--queue', 'tenants-drain', '--json'], stackEnv(stack), { config });

    expect((await drain()).code).toBe(0);
    expect(await statuses()).toEqual(['a waiting 2', 'b done 2']);
    expect(json(await groups('list', 'tenants-drain', '--json')).set).toMatchObject([{ groupKey: 'a', paused: true, state: 'paused', unfinished: 2 }]);

    expect(await groups('resume', 'tenants-drain', 'a')).toMatchObject({ code: 0, stdout: 'group a of tenants-drain resumed\n' });
    expect((await drain()).code).toBe(0);
    expect(await statuses()).toEqual(['a done 2', 'b done 2']);
  });

  it('quotes a group key that a shell would split in the resume hint, and answers --json with the group', async () => {
    expect((await groups('pause', 'tenants', "o'brien & co")).stdout).toContain("`groups resume tenants 'o'\\''brien & co'`");
    expect(json(await groups('resume', 'tenants', "o'brien & co", '--json'))).toMatchObject({ groupKey: "o'brien & co", paused: false });
  });
});

describe('refusals', () => {
  it('exits 1 for an undeclared queue, a queue without per-group limits, or a group key the API would refuse', async () => {
    expect(await groups('list', 'nope')).toMatchObject({ code: 1, stderr: expect.stringMatching(/^aurora-queue groups list: queue "nope" is not declared/) });
    expect(await groups('pause', 'plain', 'a')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('aurora-queue groups pause: queue: queue "plain" has no per-group limits; declare it with groups:'),
    });
    expect(await groups('resume', 'tenants', '')).toMatchObject({ code: 1, stderr: 'aurora-queue groups resume: groupKey: must not be empty\n' });
  });

  it('exits 2 with the usage for a missing argument, a bad --limit or an option of another command', async () => {
    expect(await groups('pause', 'tenants')).toMatchObject({
      code: 2,
      stderr: 'aurora-queue: missing argument\nusage: aurora-queue groups pause <queue> <groupKey>\n',
    });
    expect(await groups('list', 'tenants', '--limit', '0')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--limit must be a whole number from 1 to 100, got "0"'),
    });
    expect(await groups('pause', 'tenants', 'a', '--rate', '1')).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--rate is not an option of groups pause'),
    });
  });
});
