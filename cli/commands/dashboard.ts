import { listQueueStats } from '../../lib/operations.js';
import { intOption } from '../args.js';
import type { Command } from '../command.js';
import { DEFAULT_DASHBOARD_PORT, startDashboard } from '../dashboard/server.js';
import { CliError } from '../errors.js';

export const dashboardCommand: Command = {
  name: 'dashboard',
  usage: '[--port <n>]',
  summary: 'serve a page on 127.0.0.1 that shows the queues and steers them, until Ctrl-C',
  details: [
    `  --port <n>   the port on 127.0.0.1 (default ${DEFAULT_DASHBOARD_PORT}; 0 picks a free one)`,
    '  The page reaches the database through the Data API with this environment (the same target as',
    '  every command), refreshes every 5 s, and redrives, purges, pauses and resumes as the commands do.',
  ].join('\n'),
  options: ['port'],
  arity: { min: 0, max: 0 },
  async run(context) {
    const port = intOption(context.options, 'port', { min: 0, max: 65_535 }, 'dashboard') ?? DEFAULT_DASHBOARD_PORT;
    const app = context.app();
    // One read before serving: a target that cannot be reached, or has no schema, is said here.
    await listQueueStats(app);
    const { target } = context;
    const dashboard = await startDashboard({ app, port, target: target.description, log: (line) => context.warn(line) }).catch(
      (error: NodeJS.ErrnoException) => {
        throw error.code === 'EADDRINUSE' ? new CliError(`port ${port} is in use on 127.0.0.1; choose another with --port <n>`) : error;
      },
    );
    if (context.json) context.printJson({ url: dashboard.url, target: target.description });
    else context.print(`dashboard on ${dashboard.url} (${target.description}); Ctrl-C stops it`);
    try {
      await stopped(context.io.interruptSignal?.());
    } finally {
      await dashboard.close();
    }
  },
};

/** Resolves when the signal aborts (the bin's first Ctrl-C); without one, never. */
function stopped(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
}
