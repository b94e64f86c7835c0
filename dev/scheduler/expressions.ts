/**
 * EventBridge Scheduler's schedule expressions, as far as the local Scheduler needs them: all three
 * kinds are checked, only `at(...)` has a time to fire at (dev/scheduler/server.ts).
 */

export type ParsedExpression = { kind: 'at'; wallClockMs: number } | { kind: 'rate' } | { kind: 'cron' };

const AT = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;
const RATE = /^rate\(([1-9]\d*) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\((\S+ ){5}\S+\)$/;

/**
 * The expression's kind, and for `at(...)` its wall-clock time read as if in UTC (zonedTimeToUtc
 * places it in the schedule's time zone); undefined when the Scheduler would refuse it.
 */
export function parseExpression(expression: string): ParsedExpression | undefined {
  const at = AT.exec(expression);
  if (at) {
    const [year, month, day, hour, minute, second] = at.slice(1).map(Number) as [number, number, number, number, number, number];
    const ms = Date.UTC(year, month - 1, day, hour, minute, second);
    const back = new Date(ms);
    // 2026-02-30 or 25:00 rolls over: not a time the Scheduler accepts.
    const exact =
      back.getUTCFullYear() === year &&
      back.getUTCMonth() === month - 1 &&
      back.getUTCDate() === day &&
      back.getUTCHours() === hour &&
      back.getUTCMinutes() === minute &&
      back.getUTCSeconds() === second;
    return exact ? { kind: 'at', wallClockMs: ms } : undefined;
  }
  if (RATE.test(expression)) return { kind: 'rate' };
  if (CRON.test(expression)) return { kind: 'cron' };
  return undefined;
}

// The Scheduler's time zones are EventBridge's: the same IANA names and wall-clock rules as a
// recurring entry's (lib/schedule.ts).
export { isTimeZone, wallClockToInstant as zonedTimeToUtc } from '../../lib/schedule.js';
