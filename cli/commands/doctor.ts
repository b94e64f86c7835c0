import { runDoctor } from '../../lib/doctor.js';
import type { Command } from '../command.js';
import { CliError } from '../errors.js';
import { formatTable } from '../format.js';

export const doctorCommand: Command = {
  name: 'doctor',
  usage: '',
  summary: 'check the cluster the product runs on: engine, schema, the claim plan, JSON parameters, row and count behaviour',
  details:
    'Runs a handful of read-mostly probes through the Data API (one queue_state row of its own is written and removed) and prints pass, fail or info for each, with the time each call took. Exits 1 when a check fails.',
  options: [],
  arity: { min: 0, max: 0 },
  async run(context) {
    const checks = await runDoctor(context.app());
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
