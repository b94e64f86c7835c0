/**
 * Schedule expressions in EventBridge's syntax, so one syntax serves the whole stack (the drain's
 * own schedule in serverless.yml, the recurring messages of queue.config.ts), and the slots they
 * name. Pure: every function takes the time it works from.
 *
 *   rate(value unit)   unit minute | minutes | hour | hours | day | days; value 1 takes the
 *                      singular, more the plural, as EventBridge requires. Slots are counted from
 *                      1970-01-01T00:00Z, so every process computes the same ones (rate(1 day) is
 *                      midnight UTC, rate(7 days) every Thursday, the weekday that date fell on).
 *   cron(minutes hours day-of-month month day-of-week year)
 *                      minutes 0-59, hours 0-23, month 1-12 or JAN-DEC, year 1970-2199: `*`, lists
 *                      `a,b`, ranges `a-b`, steps `*\/n`, `a/n`, `a-b/n`.
 *                      day-of-month 1-31, the same plus `L` (last day), `LW` (last weekday), `nW`
 *                      (the weekday nearest day n, within the month).
 *                      day-of-week 1-7 or SUN-SAT (1 is Sunday): `*`, lists, ranges, plus `L`
 *                      (Saturday, the week's last day), `nL` (the month's last weekday n) and
 *                      `n#k` (its k-th weekday n). `?` in exactly one of day-of-month and
 *                      day-of-week.
 *
 * What EventBridge's reference documents is accepted; anything else (a 5-field cron, `/` in
 * day-of-week, `L` or `#` inside a list, a backwards range) is refused with the reason, so an
 * expression that passes here means the same in an EventBridge rule.
 *
 * Time zones (cron only): the fields are wall-clock time in the zone, as EventBridge Scheduler
 * reads them. A time that a spring-forward skips has no slot; a time that a fall-back repeats has
 * one, at its first occurrence.
 */

export class ScheduleError extends Error {
  readonly expression: string;

  constructor(expression: string, reason: string) {
    super(reason);
    this.name = 'ScheduleError';
    this.expression = expression;
  }
}

export type Schedule = RateSchedule | CronSchedule;

export interface RateSchedule {
  readonly kind: 'rate';
  readonly expression: string;
  readonly everyMs: number;
}

export interface CronSchedule {
  readonly kind: 'cron';
  readonly expression: string;
  /** Offsets of the matching minutes from midnight, ascending (hours × minutes). */
  readonly timesOfDayMs: readonly number[];
  readonly months: ReadonlySet<number>;
  /** Ascending. */
  readonly years: readonly number[];
  readonly days: DayRule;
}

/** Which days of a month match: the day-of-month field, or the day-of-week field. */
type DayRule =
  | { readonly kind: 'monthDays'; readonly days: ReadonlySet<number> }
  | { readonly kind: 'lastDay' }
  | { readonly kind: 'lastWeekday' }
  | { readonly kind: 'nearestWeekday'; readonly day: number }
  | { readonly kind: 'weekdays'; readonly weekdays: ReadonlySet<number> }
  | { readonly kind: 'lastOfWeekday'; readonly weekday: number }
  | { readonly kind: 'nthWeekday'; readonly weekday: number; readonly nth: number };

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const UNIT_MS = { minute: MINUTE_MS, hour: HOUR_MS, day: DAY_MS } as const;

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const WEEKDAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface Field {
  name: string;
  min: number;
  max: number;
  /** Names for min, min+1, ... */
  names?: readonly string[];
  /** Wildcards besides digits, `,`, `-` and `*`, as EventBridge lists them for the field. */
  allowsStep: boolean;
}

const FIELDS = {
  minutes: { name: 'minutes', min: 0, max: 59, allowsStep: true },
  hours: { name: 'hours', min: 0, max: 23, allowsStep: true },
  dayOfMonth: { name: 'day-of-month', min: 1, max: 31, allowsStep: true },
  month: { name: 'month', min: 1, max: 12, names: MONTH_NAMES, allowsStep: true },
  dayOfWeek: { name: 'day-of-week', min: 1, max: 7, names: WEEKDAY_NAMES, allowsStep: false },
  year: { name: 'year', min: 1970, max: 2199, allowsStep: true },
} satisfies Record<string, Field>;

/** Parses `rate(...)` or `cron(...)`; throws a ScheduleError that says what is wrong and how to write it. */
export function parseSchedule(expression: string): Schedule {
  const text = expression.trim();
  const rate = /^rate\((.*)\)$/s.exec(text);
  if (rate) return parseRate(expression, rate[1]!.trim());
  const cron = /^cron\((.*)\)$/s.exec(text);
  if (cron) return parseCron(expression, cron[1]!.trim());
  throw new ScheduleError(
    expression,
    'must be rate(value unit), e.g. rate(5 minutes), or cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 9 * * ? *)',
  );
}

function parseRate(expression: string, inner: string): RateSchedule {
  const match = /^(\S+)\s+(\S+)$/.exec(inner);
  if (!match) throw new ScheduleError(expression, 'rate takes a value and a unit, e.g. rate(5 minutes)');
  const [, valueText, unitText] = match as unknown as [string, string, string];
  if (!/^\d+$/.test(valueText) || Number(valueText) < 1 || !Number.isSafeInteger(Number(valueText))) {
    throw new ScheduleError(expression, `the rate's value must be a whole number of at least 1, got "${valueText}"`);
  }
  const value = Number(valueText);
  const unit = /^(minute|hour|day)(s?)$/.exec(unitText);
  if (!unit) throw new ScheduleError(expression, `the rate's unit must be minute(s), hour(s) or day(s), got "${unitText}"`);
  const singular = unit[1] as keyof typeof UNIT_MS;
  if (value === 1 && unit[2] === 's') throw new ScheduleError(expression, `a value of 1 takes the singular unit: rate(1 ${singular})`);
  if (value > 1 && unit[2] === '') throw new ScheduleError(expression, `a value above 1 takes the plural unit: rate(${value} ${singular}s)`);
  return { kind: 'rate', expression, everyMs: value * UNIT_MS[singular] };
}

function parseCron(expression: string, inner: string): CronSchedule {
  const parts = inner.split(/\s+/).filter((part) => part !== '');
  if (parts.length !== 6) {
    const hint = parts.length === 5 ? ': the year is required, e.g. cron(0 9 * * ? *) for 09:00 every day' : '';
    throw new ScheduleError(expression, `cron takes 6 fields (minutes hours day-of-month month day-of-week year), got ${parts.length}${hint}`);
  }
  const [minutesText, hoursText, domText, monthText, dowText, yearText] = parts as [string, string, string, string, string, string];
  const fail = (reason: string): never => {
    throw new ScheduleError(expression, reason);
  };
  const list = (text: string, field: Field) => parseList(text, field, fail);

  const minutes = list(minutesText, FIELDS.minutes);
  const hours = list(hoursText, FIELDS.hours);
  const months = new Set(list(monthText, FIELDS.month));
  const years = list(yearText, FIELDS.year);
  if ((domText === '?') === (dowText === '?')) {
    fail('use ? in exactly one of day-of-month and day-of-week, e.g. cron(0 9 * * ? *) or cron(0 9 ? * MON-FRI *)');
  }
  const days = domText === '?' ? parseDayOfWeek(dowText, fail) : parseDayOfMonth(domText, fail);

  const schedule: CronSchedule = {
    kind: 'cron',
    expression,
    timesOfDayMs: hours.flatMap((hour) => minutes.map((minute) => hour * HOUR_MS + minute * MINUTE_MS)),
    months,
    years,
    days,
  };
  if (matchingDays(schedule, { year: FIELDS.year.min, month: 1, day: 1 }, 1).next().done) fail('matches no date between 1970 and 2199');
  return schedule;
}

function parseDayOfMonth(text: string, fail: (reason: string) => never): DayRule {
  if (text === 'L') return { kind: 'lastDay' };
  if (text === 'LW') return { kind: 'lastWeekday' };
  const weekday = /^(\d+)W$/.exec(text);
  if (weekday) return { kind: 'nearestWeekday', day: value(weekday[1]!, FIELDS.dayOfMonth, fail) };
  if (/[LW#?]/.test(text))
    fail(`day-of-month: "${text}": L, LW and nW stand alone (not in a list or range), ? stands for the whole field and # belongs to day-of-week`);
  return { kind: 'monthDays', days: new Set(parseList(text, FIELDS.dayOfMonth, fail)) };
}

function parseDayOfWeek(text: string, fail: (reason: string) => never): DayRule {
  if (text === 'L') return { kind: 'weekdays', weekdays: new Set([7]) };
  const last = /^(\w+)L$/i.exec(text);
  if (last) return { kind: 'lastOfWeekday', weekday: value(last[1]!, FIELDS.dayOfWeek, fail) };
  const nth = /^(\w+)#(\d+)$/.exec(text);
  if (nth) {
    const k = Number(nth[2]);
    if (k < 1 || k > 5) fail(`day-of-week: "${text}": the week of the month after # must be 1-5`);
    return { kind: 'nthWeekday', weekday: value(nth[1]!, FIELDS.dayOfWeek, fail), nth: k };
  }
  if (/[LW#?]/.test(text.replace(/[A-Z]{3}/gi, '')))
    fail(`day-of-week: "${text}": L, nL and n#k stand alone (EventBridge allows one # expression, not a list), and W belongs to day-of-month`);
  return { kind: 'weekdays', weekdays: new Set(parseList(text, FIELDS.dayOfWeek, fail)) };
}

/** `*`, `a`, `a-b`, each optionally `/step`, separated by commas: the values, ascending. */
function parseList(text: string, field: Field, fail: (reason: string) => never): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const match = /^([^/]+)(?:\/(.*))?$/.exec(item);
    if (!match) fail(`${field.name}: "${item || text}" is not a value, range or step`);
    const [, range, stepText] = match as unknown as [string, string, string | undefined];
    let step = 1;
    if (stepText !== undefined) {
      if (!field.allowsStep) fail(`${field.name}: "${item}": EventBridge allows no / in ${field.name}; list the days (e.g. MON,WED,FRI)`);
      if (!/^\d+$/.test(stepText) || Number(stepText) < 1) fail(`${field.name}: "${item}": the step after / must be a whole number of at least 1`);
      step = Number(stepText);
    }
    let from: number;
    let to: number;
    if (range === '*') {
      [from, to] = [field.min, field.max];
    } else if (range.includes('-')) {
      const [a, b, ...rest] = range.split('-');
      if (rest.length > 0 || a === '' || b === '') fail(`${field.name}: "${item}" is not a range (write a-b)`);
      [from, to] = [value(a!, field, fail), value(b!, field, fail)];
      if (from > to) fail(`${field.name}: the range ${range} runs backwards; ranges do not wrap around, so write ${a}-${field.max},${field.min}-${b}`);
    } else {
      from = value(range, field, fail);
      to = stepText === undefined ? from : field.max;
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function value(text: string, field: Field, fail: (reason: string) => never): number {
  const named = field.names?.indexOf(text.toUpperCase()) ?? -1;
  if (named >= 0) return field.min + named;
  if (!/^\d+$/.test(text)) {
    const names = field.names ? ` or ${field.names[0]}-${field.names[field.names.length - 1]}` : '';
    fail(`${field.name}: "${text}" is not a value (${field.min}-${field.max}${names})`);
  }
  const n = Number(text);
  if (n < field.min || n > field.max) fail(`${field.name}: ${n} is outside ${field.min}-${field.max}`);
  return n;
}

/** Whether Intl knows the IANA zone name (e.g. Europe/Paris, America/New_York, UTC). */
export function isTimeZone(name: string): boolean {
  // Newer engines also take offsets ("+02:00"); EventBridge takes zone names only.
  if (!/^[A-Za-z]/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export interface SlotOptions {
  /** An IANA zone the cron fields are read in; UTC when omitted. Rates ignore it. */
  timeZone?: string | undefined;
}

/** The first slot strictly after `after`, or undefined when the schedule has none left (its years have passed). */
export function nextSlotAfter(schedule: Schedule, after: Date, options: SlotOptions = {}): Date | undefined {
  const t = after.getTime();
  if (schedule.kind === 'rate') return new Date((Math.floor(t / schedule.everyMs) + 1) * schedule.everyMs);
  const zone = zoneOf(options.timeZone);
  // A day early: an instant after `t` may read as an earlier wall-clock time when the offset drops.
  for (const day of matchingDays(schedule, dateOf(localMs(zone, t) - DAY_MS), 1)) {
    for (const slot of instantsOf(schedule, day, zone)) if (slot > t) return new Date(slot);
  }
  return undefined;
}

/**
 * The latest `count` slots at or before `at`, oldest first, leaving out any at or before
 * `after` (when given): a bounded look back, so a rare schedule costs no long search.
 */
export function slotsAtOrBefore(schedule: Schedule, at: Date, options: SlotOptions & { count: number; after?: Date }): Date[] {
  const t = at.getTime();
  const floor = options.after?.getTime() ?? Number.NEGATIVE_INFINITY;
  const slots: number[] = [];
  if (schedule.kind === 'rate') {
    for (let slot = Math.floor(t / schedule.everyMs) * schedule.everyMs; slots.length < options.count && slot > floor; slot -= schedule.everyMs)
      slots.push(slot);
    return slots.reverse().map((slot) => new Date(slot));
  }
  const zone = zoneOf(options.timeZone);
  for (const day of matchingDays(schedule, dateOf(localMs(zone, t) + DAY_MS), -1)) {
    // Every instant of this wall-clock day is before its midnight plus a day and the largest offset.
    if (day + DAY_MS + 14 * HOUR_MS <= floor) break;
    const instants = instantsOf(schedule, day, zone);
    for (let i = instants.length - 1; i >= 0 && slots.length < options.count; i--) {
      const slot = instants[i]!;
      if (slot <= t && slot > floor) slots.push(slot);
    }
    if (slots.length >= options.count) break;
  }
  return slots.reverse().map((slot) => new Date(slot));
}

interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

function dateOf(ms: number): CalendarDate {
  const date = new Date(ms);
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

/**
 * The days the schedule matches from `from` on (direction 1) or back from it (-1), as the
 * wall-clock midnight of each, in milliseconds as if it were UTC. Skips whole years and months.
 */
function* matchingDays(schedule: CronSchedule, from: CalendarDate, direction: 1 | -1): Generator<number> {
  const years = direction === 1 ? schedule.years.filter((y) => y >= from.year) : schedule.years.filter((y) => y <= from.year).reverse();
  for (const year of years) {
    const firstMonth = year === from.year ? from.month : direction === 1 ? 1 : 12;
    for (let month = firstMonth; month >= 1 && month <= 12; month += direction) {
      if (!schedule.months.has(month)) continue;
      const days = daysOfMonth(schedule.days, year, month);
      if (direction === -1) days.reverse();
      const startsHere = year === from.year && month === from.month;
      for (const day of days) {
        if (startsHere && (direction === 1 ? day < from.day : day > from.day)) continue;
        yield Date.UTC(year, month - 1, day);
      }
    }
  }
}

function daysOfMonth(rule: DayRule, year: number, month: number): number[] {
  const last = new Date(Date.UTC(year, month, 0)).getUTCDate();
  // 1 = Sunday ... 7 = Saturday, as the day-of-week field counts.
  const weekday = (day: number) => new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 1;
  const isWeekend = (day: number) => weekday(day) === 1 || weekday(day) === 7;
  const all = Array.from({ length: last }, (_, i) => i + 1);
  switch (rule.kind) {
    case 'monthDays':
      return all.filter((day) => rule.days.has(day));
    case 'lastDay':
      return [last];
    case 'lastWeekday':
      return [weekday(last) === 7 ? last - 1 : weekday(last) === 1 ? last - 2 : last];
    case 'nearestWeekday': {
      if (rule.day > last) return [];
      if (!isWeekend(rule.day)) return [rule.day];
      // Saturday: the Friday before, unless that leaves the month (then Monday after); Sunday: the Monday after, unless likewise.
      if (weekday(rule.day) === 7) return [rule.day === 1 ? 3 : rule.day - 1];
      return [rule.day === last ? rule.day - 2 : rule.day + 1];
    }
    case 'weekdays':
      return all.filter((day) => rule.weekdays.has(weekday(day)));
    case 'lastOfWeekday':
      return all.filter((day) => weekday(day) === rule.weekday && day + 7 > last);
    case 'nthWeekday':
      return all.filter((day) => weekday(day) === rule.weekday && Math.ceil(day / 7) === rule.nth);
  }
}

/*
 * Wall-clock time in a zone, through Intl (no time zone library: Node ships the IANA database).
 * A wall-clock time is handled as milliseconds "as if UTC"; its offset is that minus the instant.
 */

type Zone = Intl.DateTimeFormat | undefined;

const formatters = new Map<string, Intl.DateTimeFormat>();

function zoneOf(timeZone: string | undefined): Zone {
  if (timeZone === undefined || timeZone === 'UTC' || timeZone === 'Etc/UTC') return undefined;
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/**
 * The instant a wall-clock time (milliseconds as if UTC) names in `timeZone`: the zone's offset is
 * looked up twice, as the first guess may sit on the other side of a daylight-saving change.
 */
export function wallClockToInstant(wallClockMs: number, timeZone: string | undefined): number {
  const zone = zoneOf(timeZone);
  if (zone === undefined) return wallClockMs;
  const guess = wallClockMs - offsetMs(zone, wallClockMs);
  return wallClockMs - offsetMs(zone, guess);
}

function localMs(zone: Zone, instant: number): number {
  if (zone === undefined) return instant;
  const parts: Record<string, number> = {};
  for (const part of zone.formatToParts(instant)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const ms = ((instant % 1_000) + 1_000) % 1_000;
  return Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour, parts.minute, parts.second) + ms;
}

function offsetMs(zone: Zone, instant: number): number {
  return localMs(zone, instant) - instant;
}

/**
 * The slots of one matching wall-clock day, as instants, ascending. Most days have one offset
 * throughout; on a day the offset changes, each time is checked: none for a skipped time, the
 * first of two for a repeated one.
 */
function instantsOf(schedule: CronSchedule, day: number, zone: Zone): number[] {
  if (zone === undefined) return schedule.timesOfDayMs.map((time) => day + time);
  // Every instant whose wall-clock time falls on this day lies between these two (offsets are within ±14 h).
  const offsets = [offsetMs(zone, day - 14 * HOUR_MS), offsetMs(zone, day + 12 * HOUR_MS), offsetMs(zone, day + DAY_MS + 14 * HOUR_MS)];
  const distinct = [...new Set(offsets)].sort((a, b) => b - a);
  if (distinct.length === 1) return schedule.timesOfDayMs.map((time) => day + time - distinct[0]!);
  const instants: number[] = [];
  for (const time of schedule.timesOfDayMs) {
    const local = day + time;
    // The largest offset gives the earliest instant.
    const first = distinct.map((offset) => local - offset).find((instant) => localMs(zone, instant) === local);
    if (first !== undefined) instants.push(first);
  }
  return instants.sort((a, b) => a - b);
}
