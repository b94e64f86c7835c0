import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMessages } from '../../../cli/commands/enqueue.js';
import { defineConfig } from '../../../lib/config.js';
import { sms as smsType } from '../../../lib/jobs/index.js';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';

const stack = useStack();
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aq-cli-enqueue-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sms = (n: number) => ({ type: 'sms.send', payload: { to: `+1555000${String(n).padStart(4, '0')}`, body: `text ${n}` } });

async function row(id: string) {
  const [rows] = (await stack.sql.query(
    'SELECT queue, type, status, priority, max_attempts, dedup_key, available_at > created_at AS is_delayed FROM queue_messages WHERE id = ?',
    [id],
  )) as any[];
  return rows[0];
}

it('enqueues one message: queue, type, payload', async () => {
  const run = await runCaptured(['enqueue', 'sms', 'sms.send', '{"to":"+15551234567","body":"hi"}'], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stderr: '' });
  const id = /^enqueued ([0-9a-f-]{36}) on sms$/m.exec(run.stdout)?.[1];
  expect(id).toBeDefined();
  expect(await row(id!)).toMatchObject({ queue: 'sms', type: 'sms.send', status: 'waiting', priority: 0 });
});

it('passes delay, priority, max attempts and dedup key; a repeated key answers the first id', async () => {
  // The type and payload as options, the way a script that builds arguments may prefer.
  const args = [
    'enqueue',
    'orders',
    '--type',
    'sms.send',
    '--payload',
    '{"to":"+15551234567","body":"hi"}',
    '--delay',
    '60',
    '--priority',
    '5',
    '--max-attempts',
    '2',
    '--dedup-key',
    'order-1',
    '--json',
  ];
  const first = json(await runCaptured(args, stackEnv(stack)));
  expect(first).toEqual({ id: expect.any(String), duplicate: false });
  expect(await row(first.id)).toMatchObject({ queue: 'orders', priority: 5, max_attempts: 2, dedup_key: 'order-1', is_delayed: 1 });

  const second = await runCaptured(args.slice(0, -1), stackEnv(stack));
  expect(second.stdout).toBe(`duplicate: the dedupKey already names message ${first.id}\n`);
});

it('debounces with --debounce and throttles with --throttle on a --dedup-key', async () => {
  const enqueueText = (body: string, ...extra: string[]) =>
    runCaptured(['enqueue', 'orders', 'sms.send', JSON.stringify({ to: '+15551234567', body }), ...extra], stackEnv(stack));
  const payloadOf = async (id: string) => {
    const [[stored]] = (await stack.sql.query(
      'SELECT CAST(payload AS CHAR) AS payload, available_at > created_at AS is_delayed FROM queue_messages WHERE id = ?',
      [id],
    )) as any[];
    return [JSON.parse(stored.payload).body, stored.is_delayed];
  };

  const first = json(await enqueueText('one', '--dedup-key', 'cli-deb', '--debounce', '30', '--json'));
  expect(first).toEqual({ id: expect.any(String), duplicate: false });
  const second = await enqueueText('two', '--dedup-key', 'cli-deb', '--debounce', '30');
  expect(second).toMatchObject({ code: 0, stdout: `debounced: waiting message ${first.id} takes this payload, due in 30 s\n` });
  expect(await payloadOf(first.id)).toEqual(['two', 1]);

  const kept = json(await enqueueText('first', '--dedup-key', 'cli-thr', '--throttle', '60', '--json'));
  expect(await enqueueText('again', '--dedup-key', 'cli-thr', '--throttle', '60')).toMatchObject({
    code: 0,
    stdout: `throttled: the dedupKey names message ${kept.id}, enqueued less than 60 s ago\n`,
  });
  expect((await payloadOf(kept.id))[0]).toBe('first');

  expect(await enqueueText('x', '--dedup-key', 'k', '--debounce', '1', '--throttle', '1')).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('not both'),
  });
  expect(await enqueueText('x', '--dedup-key', 'k', '--debounce', '0')).toMatchObject({
    code: 2,
    stderr: expect.stringContaining('--debounce must be a whole number from 1 to 86400'),
  });
  expect(await enqueueText('x', '--debounce', '5')).toMatchObject({ code: 1, stderr: expect.stringContaining('dedupKey: is required with dedup') });
  expect(await enqueueText('x', '--dedup-key', 'k', '--debounce', '5', '--delay', '3')).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('delaySeconds: cannot be given with dedup mode debounce'),
  });
});

it.each([[['--priority', '-5']], [['--priority=-5']]])('takes a negative priority: %j', async (priority) => {
  const run = json(await runCaptured(['enqueue', 'sms', 'sms.send', '{"to":"+15551234567","body":"hi"}', ...priority, '--json'], stackEnv(stack)));
  expect(await row(run.id)).toMatchObject({ priority: -5 });
});

it('passes a group key to a FIFO queue, requires one there and refuses one elsewhere, naming the field', async () => {
  const config = defineConfig({ queues: [{ name: 'ledger', fifo: true }, { name: 'plain' }], jobTypes: [smsType({ env: {} })] });
  const enqueueTo = (queue: string, ...extra: string[]) =>
    runCaptured(['enqueue', queue, 'sms.send', '{"to":"+15551234567","body":"hi"}', ...extra], stackEnv(stack), { config });

  const first = json(await enqueueTo('ledger', '--group-key', 'acct-7', '--json'));
  const [[stored]] = (await stack.sql.query('SELECT group_key, group_head FROM queue_messages WHERE id = ?', [first.id])) as any[];
  expect(stored).toEqual({ group_key: 'acct-7', group_head: 'acct-7' });

  expect(await enqueueTo('ledger')).toMatchObject({ code: 1, stderr: expect.stringContaining('groupKey: is required: queue "ledger" is a FIFO queue') });
  expect(await enqueueTo('plain', '--group-key', 'acct-7')).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('groupKey: is only accepted by FIFO queues'),
  });
  expect(await enqueueTo('ledger', '--group-key', 'trailing ')).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('groupKey: must not end with a space'),
  });
  const mixed = await runCaptured(['enqueue', 'ledger', '--file', 'x.json', '--group-key', 'acct-7'], stackEnv(stack), { config });
  expect(mixed).toMatchObject({ code: 2, stderr: expect.stringContaining('--group-key cannot be combined with it') });
});

it('enqueues JSON Lines from a file in batches of at most 500', async () => {
  const path = join(dir, 'texts.jsonl');
  await writeFile(path, `${Array.from({ length: 1_001 }, (_, i) => JSON.stringify(sms(i))).join('\n')}\n`);
  const run = await runCaptured(['enqueue', 'default', '--file', path], stackEnv(stack));
  expect(run).toMatchObject({ code: 0, stdout: 'enqueued 1,001 messages on default in 3 batches\n' });
  const [[count]] = (await stack.sql.query("SELECT COUNT(*) AS n FROM queue_messages WHERE queue = 'default'")) as any[];
  expect(Number(count.n)).toBe(1_001);
});

it('enqueues a JSON array from standard input and answers every id with --json', async () => {
  const stdin = Readable.from([JSON.stringify([sms(1), { ...sms(2), dedupKey: 'same' }, { ...sms(3), dedupKey: 'same' }])]);
  const answer = json(await runCaptured(['enqueue', 'webhooks', '--file', '-', '--json'], stackEnv(stack), { stdin }));
  expect(answer.messages).toHaveLength(3);
  expect(answer.messages[2]).toEqual({ id: answer.messages[1].id, duplicate: true });
});

it('reports invalid messages by field and stores nothing', async () => {
  const run = await runCaptured(['enqueue', 'sms', 'sms.send', '{"to":"5551234567","body":""}'], stackEnv(stack));
  expect(run.code).toBe(1);
  expect(run.stderr).toMatch(/^aurora-queue enqueue: payload\.to: must be an E\.164 number.*\(and 1 more\)\n {2}payload\.to: .*\n {2}payload\.body: /s);
});

it('says which batch of a file was refused and how many were stored before it', async () => {
  const path = join(dir, 'partly-bad.json');
  await writeFile(
    path,
    JSON.stringify({ messages: [...Array.from({ length: 500 }, (_, i) => sms(i)), { type: 'sms.send', payload: { to: 'nope', body: 'x' } }] }),
  );
  const run = await runCaptured(['enqueue', 'orders', '--file', path], stackEnv(stack));
  expect(run.code).toBe(1);
  expect(run.stderr).toContain('batch 2 of 2 was refused');
  expect(run.stderr).toContain('the first 500 were');
  expect(run.stderr).toContain('messages[500].payload.to: must be an E.164 number');
});

it('refuses an undeclared queue, an unknown type, bad JSON and mixed options', async () => {
  const unknownQueue = await runCaptured(['enqueue', 'nope', 'sms.send', '{}'], stackEnv(stack));
  expect(unknownQueue).toMatchObject({ code: 1, stderr: expect.stringContaining('queue "nope" is not declared (declared: default, sms, webhooks, orders)') });

  const unknownType = await runCaptured(['enqueue', 'sms', 'fax', '{}'], stackEnv(stack));
  expect(unknownType).toMatchObject({ code: 1, stderr: expect.stringContaining('unknown message type "fax"') });

  const badJson = await runCaptured(['enqueue', 'sms', 'sms.send', '{to:'], stackEnv(stack));
  expect(badJson).toMatchObject({ code: 2, stderr: expect.stringContaining('the payload is not valid JSON') });
  expect(badJson.stderr).toContain('usage: aurora-queue enqueue <queue>');

  const mixed = await runCaptured(['enqueue', 'sms', '--file', 'x.json', '--type', 'sms.send'], stackEnv(stack));
  expect(mixed).toMatchObject({ code: 2, stderr: expect.stringContaining('--type cannot be combined with it') });
  const twice = await runCaptured(['enqueue', 'sms', 'sms.send', '{}', '--type', 'sms.send'], stackEnv(stack));
  expect(twice).toMatchObject({ code: 2, stderr: expect.stringContaining('give the type once') });
  const fileAndMessage = await runCaptured(['enqueue', 'sms', 'sms.send', '--file', 'x.json'], stackEnv(stack));
  expect(fileAndMessage).toMatchObject({ code: 2, stderr: expect.stringContaining('--file takes whole messages') });

  const missing = await runCaptured(['enqueue', 'sms', '--file', join(dir, 'missing.json')], stackEnv(stack));
  expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('no such file') });

  const bounds = await runCaptured(['enqueue', 'sms', 'sms.send', '{}', '--priority', '101'], stackEnv(stack));
  expect(bounds).toMatchObject({ code: 2, stderr: expect.stringContaining('--priority must be a whole number from -100 to 100') });
});

describe('parseMessages', () => {
  it('reads an array, {messages}, one object, or JSON Lines', () => {
    expect(parseMessages('[{"a":1},{"a":2}]', 'f')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseMessages('{"messages":[{"a":1}]}', 'f')).toEqual([{ a: 1 }]);
    expect(parseMessages('{"a":1}', 'f')).toEqual([{ a: 1 }]);
    expect(parseMessages('{"a":1}\n\n{"a":2}\r\n', 'f')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseMessages('  \n', 'f')).toEqual([]);
  });

  it('names the line that is not JSON', () => {
    expect(() => parseMessages('{"a":1}\n{"a":', 'texts.jsonl')).toThrow(/texts\.jsonl line 2 is not valid JSON/);
    expect(() => parseMessages('42', 'f')).toThrow(/expected a JSON array of messages/);
  });
});
