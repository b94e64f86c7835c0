/**
 * croner as an oracle for the cron schedule's slots (lib/schedule.ts stays hand-written: it reads
 * EventBridge's syntax and refuses what EventBridge refuses). For expressions both can write, the
 * next and previous slots must agree from many instants in zones with an hour's DST, a half hour's
 * (Lord Howe), DST at midnight (Cairo, São Paulo) and none (Kolkata), across their transitions.
 *
 * Where they differ, EventBridge Scheduler's documented rule decides (AWS's knowledge-center
 * article on EventBridge schedules and daylight saving, and the Scheduler guide's schedule types):
 * a cron time that a spring-forward skips gets no invocation, and a time that the fall-back
 * repeats runs once, not again. croner does otherwise in two documented cases
 * (its `fixedTimeRule`), for which the oracle's answers are corrected; nothing else differs:
 *   - a time in a spring-forward gap: croner runs a fixed-time job (`30 2 * * *`) at the first
 *     time after the gap; EventBridge skips it. Dropped: a croner slot its own pattern does not match.
 *   - a time the fall-back repeats: croner runs an interval job (`0/30 * * * *`) at both; EventBridge
 *     once, at the first (croner's fixed-time jobs too). Dropped: a croner slot whose wall-clock time
 *     the zone already showed earlier.
 */
import { Cron } from 'croner';
import { describe, expect, it } from 'vitest';
import { nextSlotAfter, parseSchedule, slotsAtOrBefore } from '../lib/schedule.js';
import { prng, type Prng } from './support/prng.js';

/** EventBridge's expression, and croner's (seconds first, `?` as `*`, Quartz weekdays 1-7 from Sunday, as EventBridge counts). */
const EXPRESSIONS: readonly (readonly [eventBridge: string, croner?: string])[] = [
  ['cron(0 9 * * ? *)'],
  ['cron(30 2 * * ? *)'], // in New York's and Berlin's spring-forward gap
  ['cron(30 1 * * ? *)'], // in New York's repeated hour
  ['cron(0 0 * * ? *)'], // Cairo's and São Paulo's skipped midnight
  ['cron(0/15 * * * ? *)'],
  ['cron(0/30 1-3 * * ? *)'],
  ['cron(15,45 2 * * ? *)'], // Lord Howe's half-hour gap (02:00-02:29) and repeat (01:30-01:59)
  ['cron(5 0-2/2 * * ? *)'],
  ['cron(0 2,3 * * ? *)'],
  ['cron(10 2 ? * MON-FRI *)'],
  ['cron(15 2 ? * SUN *)'], // spring-forward Sundays
  ['cron(0 12 L * ? *)'],
  ['cron(0 1 LW * ? *)'],
  ['cron(30 2 15W * ? *)'],
  ['cron(0 2 ? * 1#1 *)'], // the first Sunday: Lord Howe's transitions
  ['cron(45 23 ? * 6L *)'],
  ['cron(0 8 ? * L *)', '0 0 8 * * 7 *'], // L alone is Saturday
  ['cron(0 0 1 JAN,JUL ? 2026-2027)'],
  ['cron(0/20 2 ? MAR,APR,OCT,NOV SUN 2025-2027)'],
];

const ZONES = ['Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata', 'Africa/Cairo', 'America/Sao_Paulo', 'UTC'];

const SLOTS = 6;
/** The years looked at: 2025-2026, or the last two with DST where a zone has none now (Brazil dropped it in 2019). */
const spanOf = (zone: string) =>
  zone === 'America/Sao_Paulo'
    ? { from: Date.parse('2017-06-01T00:00:00Z'), to: Date.parse('2019-06-01T00:00:00Z') }
    : { from: Date.parse('2025-01-01T00:00:00Z'), to: Date.parse('2027-01-01T00:00:00Z') };
const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

function cronerPattern([eventBridge, croner]: readonly [string, string?]): string {
  if (croner !== undefined) return croner;
  const fields = /^cron\((.*)\)$/.exec(eventBridge)![1]!.split(' ');
  return ['0', ...fields.map((field) => (field === '?' ? '*' : field))].join(' ');
}

const formatters = new Map<string, Intl.DateTimeFormat>();
/** The zone's wall-clock time at `instant`, as milliseconds as if it were UTC (Intl: the IANA database Node ships). */
function wallClock(zone: string, instant: number): number {
  let format = formatters.get(zone);
  if (format === undefined) {
    const fields = { year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' } as const;
    format = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', ...fields });
    formatters.set(zone, format);
  }
  const part = Object.fromEntries(format.formatToParts(instant).map(({ type, value }) => [type, Number(value)]));
  return Date.UTC(part.year!, part.month! - 1, part.day, part.hour, part.minute, part.second);
}

/** Whether the zone showed `instant`'s wall-clock time before, a half hour or an hour earlier (a fall-back's repeat). */
const repeatsEarlierTime = (zone: string, instant: number) =>
  [30 * MINUTE_MS, HOUR_MS].some((shift) => wallClock(zone, instant - shift) === wallClock(zone, instant));

/** The zone's offset changes in its span, found hour by hour and then to the minute. */
function transitions(zone: string): number[] {
  const offset = (instant: number) => wallClock(zone, instant) - instant;
  const found: number[] = [];
  const span = spanOf(zone);
  for (let t = span.from; t < span.to; t += HOUR_MS) {
    if (offset(t) === offset(t + HOUR_MS)) continue;
    let at = t;
    while (offset(at) === offset(t)) at += MINUTE_MS;
    found.push(at);
  }
  return found;
}

/** Instants to start from: around each transition, and spread over the years at random (seeded). */
function startInstants(zone: string, random: Prng): number[] {
  const span = spanOf(zone);
  const around = transitions(zone).flatMap((t) => [-26 * HOUR_MS, -45 * MINUTE_MS, 30 * MINUTE_MS + 1_500].map((d) => t + d));
  const spread = Array.from({ length: 5 }, () => random.int(span.from, span.to));
  return [...around, ...spread];
}

interface Corrections {
  gap: number;
  repeat: number;
}

/** Whether EventBridge runs croner's `run` too, counting the corrections made. */
function kept(cron: Cron, zone: string, run: number, corrections: Corrections): boolean {
  if (!cron.match(new Date(run))) return (corrections.gap++, false);
  if (repeatsEarlierTime(zone, run)) return (corrections.repeat++, false);
  return true;
}

/** croner's next slots after `after`, as EventBridge would run them (see the file's comment). */
function oracleNext(cron: Cron, zone: string, after: number, count: number, corrections: Corrections): number[] {
  const slots: number[] = [];
  let from = after;
  while (slots.length < count) {
    const runs = cron.nextRuns(count + 4, new Date(from)).map((run) => run.getTime());
    for (const run of runs) if (kept(cron, zone, run, corrections) && slots.length < count) slots.push(run);
    if (runs.length < count + 4) break;
    from = runs.at(-1)!;
  }
  return slots;
}

function productNext(expression: string, zone: string, after: number, count: number): number[] {
  const schedule = parseSchedule(expression);
  const slots: number[] = [];
  let at = new Date(after);
  while (slots.length < count) {
    const next = nextSlotAfter(schedule, at, { timeZone: zone });
    if (next === undefined) break;
    slots.push(next.getTime());
    at = next;
  }
  return slots;
}

const iso = (instants: readonly number[]) => instants.map((instant) => new Date(instant).toISOString());

describe('cron slots against croner', () => {
  it.each(ZONES)('agree on the next %s slots from instants around every DST transition', (zone) => {
    const starts = startInstants(zone, prng(zone.length * 7919));
    const corrections: Corrections = { gap: 0, repeat: 0 };
    let compared = 0;
    for (const expression of EXPRESSIONS) {
      const cron = new Cron(cronerPattern(expression), { timezone: zone, mode: '7-part', alternativeWeekdays: true, sloppyRanges: true, paused: true });
      for (const start of starts) {
        const expected = oracleNext(cron, zone, start, SLOTS, corrections);
        const actual = productNext(expression[0], zone, start, SLOTS);
        if (actual.join() !== expected.join()) {
          expect({ expression: expression[0], zone, after: new Date(start).toISOString(), slots: iso(actual) }).toEqual({
            expression: expression[0],
            zone,
            after: new Date(start).toISOString(),
            slots: iso(expected),
          });
        }
        compared += actual.length;
      }
    }
    expect(compared).toBeGreaterThan(starts.length * EXPRESSIONS.length * 4);
    // The corrections are where DST is: none without it, some of each kind with it.
    if (zone === 'UTC' || zone === 'Asia/Kolkata') expect(corrections).toEqual({ gap: 0, repeat: 0 });
    else expect(corrections.repeat).toBeGreaterThan(0);
    if (zone !== 'UTC' && zone !== 'Asia/Kolkata') expect(corrections.gap).toBeGreaterThan(0);
  });

  it.each(ZONES)('agree on the latest %s slots at or before instants around every DST transition', (zone) => {
    const starts = startInstants(zone, prng(zone.length * 104_729));
    const corrections: Corrections = { gap: 0, repeat: 0 };
    for (const expression of EXPRESSIONS) {
      const cron = new Cron(cronerPattern(expression), { timezone: zone, mode: '7-part', alternativeWeekdays: true, sloppyRanges: true, paused: true });
      for (const at of starts) {
        // croner's previous runs are before its reference: a second past `at` takes in a slot at `at`.
        const runs = cron.previousRuns(SLOTS + 6, new Date(at + 1_000)).map((run) => run.getTime());
        const expected = runs
          .filter((run) => run <= at && kept(cron, zone, run, corrections))
          .slice(0, SLOTS)
          .reverse();
        const actual = slotsAtOrBefore(parseSchedule(expression[0]), new Date(at), { count: SLOTS, timeZone: zone }).map((slot) => slot.getTime());
        if (actual.join() !== expected.join()) {
          expect({ expression: expression[0], zone, at: new Date(at).toISOString(), slots: iso(actual) }).toEqual({
            expression: expression[0],
            zone,
            at: new Date(at).toISOString(),
            slots: iso(expected),
          });
        }
      }
    }
  });
});
