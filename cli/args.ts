/**
 * Argument parsing on `node:util` parseArgs: one option table for every command, then a check
 * that each option given belongs to the command it was given to.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './errors.js';

export const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  // enqueue
  type: { type: 'string', short: 't' },
  payload: { type: 'string', short: 'p' },
  file: { type: 'string', short: 'f' },
  delay: { type: 'string' },
  priority: { type: 'string' },
  'max-attempts': { type: 'string' },
  'dedup-key': { type: 'string' },
  'group-key': { type: 'string' },
  debounce: { type: 'string' },
  throttle: { type: 'string' },
  // dead
  limit: { type: 'string' },
  after: { type: 'string' },
  ids: { type: 'string' },
  all: { type: 'boolean' },
  // drain
  queue: { type: 'string', short: 'q' },
  'max-messages': { type: 'string' },
  'in-process': { type: 'boolean' },
  function: { type: 'string' },
  stage: { type: 'string' },
  timeout: { type: 'string' },
  // groups
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  // dashboard
  port: { type: 'string' },
  // doctor
  full: { type: 'boolean' },
} as const;

export type OptionName = keyof typeof OPTIONS;

type OptionValue<Name extends OptionName> = (typeof OPTIONS)[Name]['type'] extends 'boolean' ? boolean : string;
export type Options = { [Name in OptionName]?: OptionValue<Name> };

export interface ParsedArgs {
  positionals: string[];
  options: Options;
  /** Options as typed, for the "not an option of <command>" check. */
  given: OptionName[];
}

export function parseCliArgs(argv: readonly string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: withNegativeValuesJoined(argv), options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    // parseArgs's messages name the option and suggest `--` for values that start with a dash.
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const given = [...new Set(parsed.tokens.flatMap((token) => (token.kind === 'option' ? [token.name] : [])))];
  return { positionals: parsed.positionals, options: parsed.values, given };
}

const NEGATIVE_NUMBER = /^-\d+(\.\d+)?$/;

/**
 * `--priority -5` as `--priority=-5`: parseArgs takes an argument that starts with a dash for an
 * option, never for the value of the option before it, and refuses the pair as ambiguous. Only a
 * negative number after an option that takes a value is joined; everything after `--` is left as is.
 */
function withNegativeValuesJoined(argv: readonly string[]): string[] {
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return [...args, ...argv.slice(i)];
    const name = valueOptionName(arg);
    const next = argv[i + 1];
    if (name !== undefined && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      args.push(`--${name}=${next}`);
      i++;
    } else {
      args.push(arg);
    }
  }
  return args;
}

/** The name of the string option `arg` is (`--priority`, or a short one like `-p`), else undefined. */
function valueOptionName(arg: string): OptionName | undefined {
  const entries = Object.entries(OPTIONS) as [OptionName, (typeof OPTIONS)[OptionName]][];
  const found = arg.startsWith('--')
    ? entries.find(([name]) => `--${name}` === arg)
    : entries.find(([, option]) => 'short' in option && `-${option.short}` === arg);
  return found !== undefined && found[1].type === 'string' ? found[0] : undefined;
}

/** A whole number option within bounds, or undefined when not given. */
export function intOption(options: Options, name: OptionName, bounds: { min: number; max: number }, command: string): number | undefined {
  const raw = options[name];
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || value < bounds.min || value > bounds.max) {
    throw new UsageError(`--${name} must be a whole number from ${bounds.min} to ${bounds.max}, got "${raw}"`, command);
  }
  return value;
}

/** `a,b , c` → ['a', 'b', 'c']. */
export function listOption(options: Options, name: OptionName): string[] | undefined {
  const raw = options[name];
  if (raw === undefined || typeof raw === 'boolean') return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}
