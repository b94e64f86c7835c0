import type { OptionName } from './args.js';
import type { CliContext } from './context.js';

export interface Command {
  /** As typed: `stats`, `dead list`. */
  name: string;
  /** Arguments after the name, e.g. `<queue> [--limit n]`. */
  usage: string;
  summary: string;
  /** Longer help: what each option means. */
  details?: string;
  /** Options this command accepts besides --json and --help. */
  options: readonly OptionName[];
  /** Positional arguments after the name: at least min, at most max. */
  arity: { min: number; max: number };
  run(context: CliContext, args: readonly string[]): Promise<void>;
}
