import { migrate } from '../../lib/migrate.js';
import type { Command } from '../command.js';
import { createDatabase } from '../../lib/sql/databases.js';

export const migrateCommand: Command = {
  name: 'migrate',
  usage: '',
  summary: 'apply schema/migrations (locally, create the database first)',
  options: [],
  arity: { min: 0, max: 0 },
  async run(context) {
    const { target } = context;
    if (target.local) await createDatabase(context.newDb(undefined), target.db.database);
    const log = context.json ? () => {} : (line: string) => context.print(line);
    const result = await migrate(context.newDb(target.db.database), { log });
    if (context.json) return context.printJson(result);
    context.print(
      result.applied.length === 0
        ? `${target.description}: up to date (${result.skipped.length} already applied)`
        : `${target.description}: applied ${result.applied.join(', ')}; ${result.skipped.length} already applied`,
    );
  },
};
