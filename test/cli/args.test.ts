import { describe, expect, it } from 'vitest';
import { intOption, parseCliArgs } from '../../cli/args.js';
import { UsageError } from '../../cli/errors.js';

describe('parseCliArgs', () => {
  it.each([
    ['--priority -5', ['--priority', '-5']],
    ['--priority=-5', ['--priority=-5']],
  ])('takes a negative number as the value of the option before it: %s', (_name, option) => {
    const args = parseCliArgs(['enqueue', 'q', 'type', '{}', ...option]);
    expect(args).toEqual({ positionals: ['enqueue', 'q', 'type', '{}'], options: { priority: '-5' }, given: ['priority'] });
    expect(intOption(args.options, 'priority', { min: -100, max: 100 }, 'enqueue')).toBe(-5);
  });

  it('joins a negative number to a short option too, and to options before positionals', () => {
    expect(parseCliArgs(['enqueue', '-p', '-1.5', '--delay', '-3', 'q']).options).toEqual({ payload: '-1.5', delay: '-3' });
  });

  it('still refuses an unknown option, a dash-word after an option, and leaves what follows -- alone', () => {
    expect(() => parseCliArgs(['enqueue', '-5'])).toThrow(UsageError);
    expect(() => parseCliArgs(['enqueue', '--priority', '-x'])).toThrow(UsageError);
    expect(() => parseCliArgs(['enqueue', '--json', '-5'])).toThrow(UsageError);
    expect(parseCliArgs(['enqueue', '--', '--priority', '-5']).positionals).toEqual(['enqueue', '--priority', '-5']);
  });

  it('lets intOption refuse a negative value where none is allowed, naming the option', () => {
    const args = parseCliArgs(['enqueue', '--delay', '-3']);
    expect(() => intOption(args.options, 'delay', { min: 0, max: 10 }, 'enqueue')).toThrow('--delay must be a whole number from 0 to 10, got "-3"');
  });
});
