import { cancelMessage } from '../../lib/messages.js';
import type { Command } from '../command.js';
import { formatFields } from '../format.js';
import { messageFields } from './status.js';

export const cancelCommand: Command = {
  name: 'cancel',
  usage: '<id>',
  summary: 'cancel a message: at once if it waits, or ask the drain running it to stop it',
  options: [],
  arity: { min: 1, max: 1 },
  async run(context, [id]) {
    const message = await cancelMessage(context.app(), id!.trim().toLowerCase());
    if (context.json) return context.printJson(message);
    context.print(formatFields(messageFields(message)));
    if (message.cancelRequested === true) {
      context.print('cancel requested: the drain running it stops it within about a second; it ends cancelled unless its handler finishes first');
    }
  },
};
