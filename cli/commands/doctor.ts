import { runDoctor } from '../../lib/doctor.js';
import type { Command } from '../command.js';
import { CliError } from '../errors.js';
import { formatTable } from '../format.js';

export const doctorCommand: Command = {
  name: 'doctor',
  usage: '[--full]',
  summary:
    "check the cluster the product runs on: engine, schema, the claims' plans, JSON parameters, row and count behaviour; --full runs every kind of statement on scratch queues",
  details:
    'Runs a handful of read-mostly probes through the Data API (one queue_state row of its own is written and removed) and prints pass, fail or info for each, with the time each call took. Exits 1 when a check fails.\n' +
    '  --full   also runs every kind of statement the product runs, through its own code, on scratch queues no config declares (doctor-<random>-*):\n' +
    '           a racing dedup key, two claims at once, FIFO heads and followers, permits, a 1 MiB payload, redrive and purge, retention, the wake row,\n' +
    '           the migration runner\'s "already done" errors (1050, 1060, 1061, 1091, on a scratch table) and the process list; then deletes every row\n' +
    '           it wrote and drops its table, also after a failure. Needs the rights migrations need (CREATE, ALTER, DROP). Takes a few seconds.',
  options: ['full'],
  arity: { min: 0, max: 0 },
  async run(context) {
    const checks = await runDoctor(context.app(), { full: context.options.full === true });
    if (context.json) context.printJson(checks);
    else
      context.print(
        formatTable(
          [{ header: 'check' }, { header: 'result' }, { header: 'ms', align: 'right' }, { header: 'detail' }],
          checks.map((c) => [c.name, c.result, String(c.ms), c.detail]),
        ),
      );
    const failed = checks.filter((c) => c.result === 'fail');
    if (failed.length > 0) throw new CliError(`${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.map((c) => c.name).join(', ')}`);
  },
};
