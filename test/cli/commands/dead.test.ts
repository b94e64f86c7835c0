import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { createApp } from '../../../lib/app.js';
import { startFakeSmsProvider, type FakeSmsProvider } from '../../../dev/fakeSmsProvider.js';
import { enqueue } from '../../../lib/enqueue.js';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';
import { testConfig } from '../../support/config.js';

const stack = useStack();
let provider: FakeSmsProvider;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  // Every call fails; with one attempt allowed, every text is dead after one drain.
  provider = await startFakeSmsProvider({ failureRate: 1, throttleRate: 0 });
  env = stackEnv(stack, { SMS_PROVIDER_URL: provider.url });
});
afterEach(async () => {
  await stack.sql.query('DELETE FROM queue_messages');
});
afterAll(async () => {
  await provider?.close();
});

async function killTexts(count: number): Promise<string[]> {
  const app = createApp({ db: stack.db, env: {}, config: testConfig });
  const answers = await enqueue(
    app,
    'sms',
    Array.from({ length: count }, (_, i) => ({ type: 'sms.send', payload: { to: `+1555000${1000 + i}`, body: 'x' }, maxAttempts: 1 })),
  );
  const drained = json(await runCaptured(['drain', '--in-process', '--queue', 'sms', '--json'], env));
  expect(drained).toMatchObject({ claimed: count, dead: count });
  return answers.map((answer) => answer.id);
}

async function statuses(ids: readonly string[]): Promise<string[]> {
  const [rows] = (await stack.sql.query('SELECT id, status FROM queue_messages WHERE id IN (?) ORDER BY id', [ids])) as any[];
  return rows.map((row: { status: string }) => row.status);
}

it('lists dead letters with their last errors, page by page', async () => {
  const ids = await killTexts(3);
  const run = await runCaptured(['dead', 'list', 'sms', '--limit', '2'], env);
  expect(run).toMatchObject({ code: 0, stderr: '' });
  const lines = run.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^id +type +attempts +dead since +last error$/);
  expect(lines.slice(2, 4).map((line) => line.split(/ +/)[0])).toEqual(ids.slice(0, 2));
  expect(lines[2]).toMatch(/sms\.send +1 +\d{4}-\d\d-\d\dT\S+ +attempts exhausted \(1\/1\); last error: .*500/);
  expect(lines[4]).toBe(`more: dead list sms --after ${ids[1]}`);

  const next = json(await runCaptured(['dead', 'list', 'sms', '--after', ids[1]!, '--json'], env));
  expect(next.messages.map((m: { id: string }) => m.id)).toEqual([ids[2]]);
  expect(next.messages[0]).toMatchObject({ status: 'dead', payload: { to: '+15550001002', body: 'x' } });
  expect(next.next).toBeUndefined();
});

it('redrives the given ids, then all the rest', async () => {
  const ids = await killTexts(3);
  expect(await runCaptured(['dead', 'redrive', 'sms', ids[0]!], env)).toMatchObject({ code: 0, stdout: 'redrove 1 dead letter of sms\n' });
  expect(await statuses(ids)).toEqual(['waiting', 'dead', 'dead']);
  expect(json(await runCaptured(['dead', 'redrive', 'sms', '--json'], env))).toEqual({ count: 2, more: false, notCarried: 0 });
  expect(await statuses(ids)).toEqual(['waiting', 'waiting', 'waiting']);
  const [rows] = (await stack.sql.query('SELECT attempts FROM queue_messages WHERE id IN (?)', [ids])) as any[];
  expect(rows.map((row: { attempts: number }) => row.attempts)).toEqual([0, 0, 0]);
});

it('says which dead letters it left: their type has no handler', async () => {
  const ids = await killTexts(2);
  await stack.sql.query("UPDATE queue_messages SET type = 'retired.type' WHERE id = ?", [ids[1]]);
  expect(await runCaptured(['dead', 'redrive', 'sms'], env)).toMatchObject({
    code: 0,
    stdout: 'redrove 1 dead letter of sms\nleft 1 dead: its job type is not carried by sms or has no handler (see its types in queue.config.ts)\n',
  });
  expect(await statuses(ids)).toEqual(['waiting', 'dead']);
});

it('redrives at most --limit', async () => {
  const ids = await killTexts(3);
  expect(json(await runCaptured(['dead', 'redrive', 'sms', '--limit', '2', '--json'], env))).toEqual({ count: 2, more: true, notCarried: 0 });
  expect((await statuses(ids)).filter((status) => status === 'dead')).toHaveLength(1);
});

it('purges only when told which, or --all', async () => {
  const ids = await killTexts(3);
  const unsaid = await runCaptured(['dead', 'purge', 'sms'], env);
  expect(unsaid).toMatchObject({ code: 2, stderr: expect.stringContaining('purging is for good: name the dead letters by id, or say --all') });
  expect(await runCaptured(['dead', 'purge', 'sms', ids[0]!, ids[1]!.toUpperCase()], env)).toMatchObject({ code: 0, stdout: 'purged 2 dead letters of sms\n' });
  expect(await statuses(ids)).toEqual(['dead']);
  expect(json(await runCaptured(['dead', 'purge', 'sms', '--all', '--json'], env))).toEqual({ count: 1, more: false });
  expect(await runCaptured(['dead', 'list', 'sms'], env)).toMatchObject({ code: 0, stdout: 'no dead letters on sms\n' });
});

it('refuses bad ids, both selections at once, and a missing action', async () => {
  expect(await runCaptured(['dead', 'redrive', 'sms', '--ids', 'nope'], env)).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('"nope" is not a message id'),
  });
  expect(await runCaptured(['dead', 'purge', 'sms', '0190a5b4-0000-7000-8000-000000000000', '--all'], env)).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('not both'),
  });
  expect(
    await runCaptured(['dead', 'redrive', 'sms', '0190a5b4-0000-7000-8000-000000000000', '--ids', '0190a5b4-0000-7000-8000-000000000001'], env),
  ).toMatchObject({ code: 2, stderr: expect.stringContaining('as arguments or with --ids, not both') });
  // --ids still works, comma-separated.
  expect(await runCaptured(['dead', 'purge', 'sms', '--ids', '0190a5b4-0000-7000-8000-000000000000, 0190a5b4-0000-7000-8000-000000000001'], env)).toMatchObject(
    { code: 0, stdout: 'purged 0 dead letters of sms\n' },
  );
  expect(await runCaptured(['dead', 'list', 'sms', '--after', 'x'], env)).toMatchObject({ code: 2 });
  expect(await runCaptured(['dead', 'list', 'sms', '--limit', '0'], env)).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('--limit must be a whole number from 1 to 500'),
  });
  expect(await runCaptured(['dead'], env)).toMatchObject({ code: 2, stderr: expect.stringContaining('dead needs an action: list, redrive or purge') });
  expect(await runCaptured(['dead', 'bury', 'sms'], env)).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown command "dead bury"') });
  expect(await runCaptured(['dead', 'list', 'nope'], env)).toMatchObject({ code: 1, stderr: expect.stringContaining('queue "nope" is not declared') });
});
