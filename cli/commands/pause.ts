import { pauseQueue, resumeQueue } from '../../lib/operations.js';
import type { Command } from '../command.js';

export const pauseCommand: Command = {
  name: 'pause',
  usage: '<queue>',
  summary: 'stop drain runs from claiming the queue (enqueue goes on)',
  options: [],
  arity: { min: 1, max: 1 },
  async run(context, [queue]) {
    const result = await pauseQueue(context.app(), queue!);
    if (context.json) return context.printJson(result);
    context.print(`queue ${queue} paused: drain runs skip it until \`resume ${queue}\``);
  },
};

export const resumeCommand: Command = {
  name: 'resume',
  usage: '<queue>',
  summary: 'let drain runs claim the queue again',
  options: [],
  arity: { min: 1, max: 1 },
  async run(context, [queue]) {
    const result = await resumeQueue(context.app(), queue!);
    if (context.json) return context.printJson(result);
    context.print(`queue ${queue} resumed`);
  },
};
