import { expect, it } from 'vitest';
import { useStack } from '../../support/stack.js';
import { json, runCaptured, stackEnv } from '../helpers.js';

const stack = useStack();

it('pauses and resumes a queue, which stats and the drain both see', async () => {
  expect(await runCaptured(['pause', 'orders'], stackEnv(stack))).toMatchObject({
    code: 0,
    stdout: 'queue orders paused: drain runs skip it until `resume orders`\n',
  });
  expect(json(await runCaptured(['stats', 'orders', '--json'], stackEnv(stack))).paused).toBe(true);
  const drained = json(await runCaptured(['drain', '--in-process', '--queue', 'orders', '--json'], stackEnv(stack)));
  expect(drained.pausedQueues).toEqual(['orders']);

  expect(json(await runCaptured(['resume', 'orders', '--json'], stackEnv(stack)))).toEqual({ queue: 'orders', paused: false });
  expect(json(await runCaptured(['stats', 'orders', '--json'], stackEnv(stack))).paused).toBe(false);
});

it('exits 1 for an undeclared queue and 2 without one', async () => {
  expect(await runCaptured(['pause', 'nope'], stackEnv(stack))).toMatchObject({ code: 1, stderr: expect.stringContaining('queue "nope" is not declared') });
  expect(await runCaptured(['resume'], stackEnv(stack))).toMatchObject({ code: 2, stderr: expect.stringContaining('usage: aurora-queue resume <queue>') });
});
