import { describe, expect, it } from 'vitest';
import { isTimeZone, nextSlotAfter, parseSchedule, ScheduleError, slotsAtOrBefore, type Schedule } from '../lib/schedule.js';

const iso = (dates: readonly Date[]) => dates.map((date) => date.toISOString());
const next = (expression: string, after: string, timeZone?: string) => nextSlotAfter(parseSchedule(expression), new Date(after), { timeZone })?.toISOString();
const latest = (expression: string, at: string, count: number, timeZone?: string) =>
  iso(slotsAtOrBefore(parseSchedule(expression), new Date(at), { count, timeZone }));

/** The next `count` slots after `from`, by repeated nextSlotAfter. */
function upcoming(schedule: Schedule, from: string, count: number, timeZone?: string): string[] {
  const slots: string[] = [];
  let at = new Date(from);
  for (let i = 0; i < count; i++) {
    at = nextSlotAfter(schedule, at, { timeZone })!;
    slots.push(at.toISOString());
  }
  return slots;
}

function refusal(expression: string): string {
  try {
    parseSchedule(expression);
  } catch (error) {
    if (error instanceof ScheduleError) return error.message;
    throw error;
  }
  throw new Error(`expected ${expression} to be refused`);
}

describe('rate expressions', () => {
  it('count from 1970-01-01T00:00Z, so every process finds the same slots', () => {
    expect(parseSchedule('rate(5 minutes)')).toMatchObject({ kind: 'rate', everyMs: 300_000 });
    expect(next('rate(5 minutes)', '2026-01-01T00:07:30Z')).toBe('2026-01-01T00:10:00.000Z');
    expect(next('rate(5 minutes)', '2026-01-01T00:10:00Z')).toBe('2026-01-01T00:15:00.000Z');
    expect(latest('rate(5 minutes)', '2026-01-01T00:10:00Z', 3)).toEqual(['2026-01-01T00:00:00.000Z', '2026-01-01T00:05:00.000Z', '2026-01-01T00:10:00.000Z']);
    expect(next('rate(1 hour)', '2026-01-01T00:00:01Z')).toBe('2026-01-01T01:00:00.000Z');
    expect(next('rate(1 day)', '2026-01-01T09:00:00Z')).toBe('2026-01-02T00:00:00.000Z');
    // 1970-01-01 was a Thursday.
    expect(new Date(next('rate(7 days)', '2026-01-01T09:00:00Z')!).getUTCDay()).toBe(4);
  });

  it('take the singular with 1 and the plural above, as EventBridge does', () => {
    expect(refusal('rate(1 minutes)')).toBe('a value of 1 takes the singular unit: rate(1 minute)');
    expect(refusal('rate(5 minute)')).toBe('a value above 1 takes the plural unit: rate(5 minutes)');
    expect(refusal('rate(0 minutes)')).toBe('the rate\'s value must be a whole number of at least 1, got "0"');
    expect(refusal('rate(1.5 hours)')).toMatch(/whole number/);
    expect(refusal('rate(30 seconds)')).toBe('the rate\'s unit must be minute(s), hour(s) or day(s), got "seconds"');
    expect(refusal('rate(5)')).toBe('rate takes a value and a unit, e.g. rate(5 minutes)');
  });
});

describe('cron expressions', () => {
  it('read six fields: minutes hours day-of-month month day-of-week year', () => {
    expect(upcoming(parseSchedule('cron(0 9 * * ? *)'), '2026-01-01T10:00:00Z', 2)).toEqual(['2026-01-02T09:00:00.000Z', '2026-01-03T09:00:00.000Z']);
    expect(upcoming(parseSchedule('cron(0/15 * * * ? *)'), '2026-01-01T10:50:00Z', 3)).toEqual([
      '2026-01-01T11:00:00.000Z',
      '2026-01-01T11:15:00.000Z',
      '2026-01-01T11:30:00.000Z',
    ]);
    expect(upcoming(parseSchedule('cron(5,35 8-9 * * ? *)'), '2026-01-01T00:00:00Z', 5)).toEqual([
      '2026-01-01T08:05:00.000Z',
      '2026-01-01T08:35:00.000Z',
      '2026-01-01T09:05:00.000Z',
      '2026-01-01T09:35:00.000Z',
      '2026-01-02T08:05:00.000Z',
    ]);
    // 2026-01-03 is a Saturday.
    expect(upcoming(parseSchedule('cron(0 18 ? * MON-FRI *)'), '2026-01-02T19:00:00Z', 2)).toEqual(['2026-01-05T18:00:00.000Z', '2026-01-06T18:00:00.000Z']);
    expect(upcoming(parseSchedule('cron(0 0 1 JAN/3 ? *)'), '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-04-01T00:00:00.000Z',
      '2026-07-01T00:00:00.000Z',
      '2026-10-01T00:00:00.000Z',
    ]);
    expect(upcoming(parseSchedule('cron(10-50/20 3 1 * ? *)'), '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-01T03:10:00.000Z',
      '2026-01-01T03:30:00.000Z',
      '2026-01-01T03:50:00.000Z',
    ]);
    expect(upcoming(parseSchedule('cron(0 12 ? * 1,7 *)'), '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-03T12:00:00.000Z', '2026-01-04T12:00:00.000Z']);
  });

  it('take L, W and # where EventBridge does', () => {
    // Last day of the month; the last weekday (2026-01-31 is a Saturday); the weekday nearest the 1st (2026-02-01 is a Sunday, 2025-11-01 a Saturday).
    expect(upcoming(parseSchedule('cron(0 10 L * ? *)'), '2026-01-15T00:00:00Z', 3)).toEqual([
      '2026-01-31T10:00:00.000Z',
      '2026-02-28T10:00:00.000Z',
      '2026-03-31T10:00:00.000Z',
    ]);
    expect(next('cron(0 10 LW * ? *)', '2026-01-15T00:00:00Z')).toBe('2026-01-30T10:00:00.000Z');
    expect(next('cron(0 10 1W * ? *)', '2026-01-15T00:00:00Z')).toBe('2026-02-02T10:00:00.000Z');
    expect(next('cron(0 10 1W * ? *)', '2025-10-15T00:00:00Z')).toBe('2025-11-03T10:00:00.000Z');
    expect(next('cron(0 10 15W * ? *)', '2026-02-01T00:00:00Z')).toBe('2026-02-16T10:00:00.000Z'); // the 15th is a Sunday
    // The second Tuesday, the last Friday, and L alone: Saturday, the week's last day.
    expect(upcoming(parseSchedule('cron(0 10 ? * 3#2 *)'), '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-13T10:00:00.000Z', '2026-02-10T10:00:00.000Z']);
    expect(upcoming(parseSchedule('cron(0 10 ? * 6L *)'), '2026-01-01T00:00:00Z', 2)).toEqual(['2026-01-30T10:00:00.000Z', '2026-02-27T10:00:00.000Z']);
    expect(next('cron(0 10 ? * L *)', '2026-01-01T00:00:00Z')).toBe('2026-01-03T10:00:00.000Z');
  });

  it('end when their years do, and find rare dates', () => {
    expect(next('cron(0 9 1 1 ? 2020)', '2026-01-01T00:00:00Z')).toBeUndefined();
    expect(latest('cron(0 9 1 1 ? 2020)', '2026-01-01T00:00:00Z', 1)).toEqual(['2020-01-01T09:00:00.000Z']);
    expect(next('cron(0 9 29 FEB ? *)', '2026-01-01T00:00:00Z')).toBe('2028-02-29T09:00:00.000Z');
    expect(latest('cron(0 9 29 2 ? *)', '2026-01-01T00:00:00Z', 2)).toEqual(['2020-02-29T09:00:00.000Z', '2024-02-29T09:00:00.000Z']);
  });

  it('are refused with the field and the reason, or the form EventBridge expects', () => {
    expect(refusal('cron(0 9 * * *)')).toBe(
      'cron takes 6 fields (minutes hours day-of-month month day-of-week year), got 5: the year is required, e.g. cron(0 9 * * ? *) for 09:00 every day',
    );
    expect(refusal('cron(0 9 * * * *)')).toBe('use ? in exactly one of day-of-month and day-of-week, e.g. cron(0 9 * * ? *) or cron(0 9 ? * MON-FRI *)');
    expect(refusal('cron(0 9 ? * ? *)')).toMatch(/^use \? in exactly one/);
    expect(refusal('cron(60 9 * * ? *)')).toBe('minutes: 60 is outside 0-59');
    expect(refusal('cron(0 24 * * ? *)')).toBe('hours: 24 is outside 0-23');
    expect(refusal('cron(0 9 * 13 ? *)')).toBe('month: 13 is outside 1-12');
    expect(refusal('cron(0 9 * * ? 1969)')).toBe('year: 1969 is outside 1970-2199');
    expect(refusal('cron(0 9 ? * 8 *)')).toBe('day-of-week: 8 is outside 1-7');
    expect(refusal('cron(0 9 ? * FUN *)')).toBe('day-of-week: "FUN" is not a value (1-7 or SUN-SAT)');
    expect(refusal('cron(0 22-2 * * ? *)')).toBe('hours: the range 22-2 runs backwards; ranges do not wrap around, so write 22-23,0-2');
    expect(refusal('cron(*/0 9 * * ? *)')).toBe('minutes: "*/0": the step after / must be a whole number of at least 1');
    expect(refusal('cron(0 9 ? * MON/2 *)')).toMatch(/^day-of-week: "MON\/2": EventBridge allows no \/ in day-of-week/);
    expect(refusal('cron(0 9 ? * 2#1,4#3 *)')).toMatch(/^day-of-week: "2#1,4#3": .*one # expression/);
    expect(refusal('cron(0 9 ? * 2#6 *)')).toBe('day-of-week: "2#6": the week of the month after # must be 1-5');
    expect(refusal('cron(0 9 1,L * ? *)')).toMatch(/^day-of-month: "1,L": L, LW and nW stand alone/);
    expect(refusal('cron(0 9 31 2 ? *)')).toBe('matches no date between 1970 and 2199');
    expect(refusal('every 5 minutes')).toMatch(/^must be rate\(value unit\), e\.g\. rate\(5 minutes\), or cron\(/);
    expect(refusal('cron(0 9 * * ? *')).toMatch(/^must be rate/);
  });

  it('take names in any case and spaces around the fields', () => {
    expect(next('cron( 0 9 ? jan mon 2026 )', '2026-01-01T00:00:00Z')).toBe('2026-01-05T09:00:00.000Z');
  });
});

describe('slots in a time zone', () => {
  it('read the fields as wall-clock time in the zone', () => {
    // Paris is UTC+1 in winter, UTC+2 in summer.
    expect(next('cron(0 9 * * ? *)', '2026-01-10T12:00:00Z', 'Europe/Paris')).toBe('2026-01-11T08:00:00.000Z');
    expect(next('cron(0 9 * * ? *)', '2026-07-10T12:00:00Z', 'Europe/Paris')).toBe('2026-07-11T07:00:00.000Z');
    expect(next('cron(0 9 * * ? *)', '2026-01-10T12:00:00Z', 'Asia/Kolkata')).toBe('2026-01-11T03:30:00.000Z');
    // Monday 00:30 in Tokyo is still Sunday in UTC.
    expect(next('cron(30 0 ? * MON *)', '2026-01-01T00:00:00Z', 'Asia/Tokyo')).toBe('2026-01-04T15:30:00.000Z');
    expect(next('cron(0 9 * * ? *)', '2026-01-10T12:00:00Z', 'UTC')).toBe('2026-01-11T09:00:00.000Z');
  });

  it('skip a time the spring-forward skips, and keep the rest of that day', () => {
    // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    expect(upcoming(parseSchedule('cron(30 2 * * ? *)'), '2026-03-06T12:00:00Z', 3, 'America/New_York')).toEqual([
      '2026-03-07T07:30:00.000Z',
      '2026-03-09T06:30:00.000Z',
      '2026-03-10T06:30:00.000Z',
    ]);
    expect(upcoming(parseSchedule('cron(0 * * * ? *)'), '2026-03-08T05:30:00Z', 3, 'America/New_York')).toEqual([
      '2026-03-08T06:00:00.000Z', // 01:00 EST
      '2026-03-08T07:00:00.000Z', // 03:00 EDT: 02:00 never happened
      '2026-03-08T08:00:00.000Z',
    ]);
    expect(latest('cron(30 2 * * ? *)', '2026-03-09T00:00:00Z', 2, 'America/New_York')).toEqual(['2026-03-06T07:30:00.000Z', '2026-03-07T07:30:00.000Z']);
  });

  it('take a time the fall-back repeats once, at its first occurrence', () => {
    // New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST, so 01:00-01:59 happens twice.
    expect(upcoming(parseSchedule('cron(30 1 * * ? *)'), '2026-10-31T12:00:00Z', 2, 'America/New_York')).toEqual([
      '2026-11-01T05:30:00.000Z', // 01:30 EDT; not again at 01:30 EST
      '2026-11-02T06:30:00.000Z',
    ]);
    expect(upcoming(parseSchedule('cron(0/30 * * * ? *)'), '2026-11-01T04:45:00Z', 4, 'America/New_York')).toEqual([
      '2026-11-01T05:00:00.000Z', // 01:00 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T07:00:00.000Z', // 02:00 EST: the repeated hour has no slots
      '2026-11-01T07:30:00.000Z',
    ]);
    expect(latest('cron(0/30 * * * ? *)', '2026-11-01T07:00:00Z', 3, 'America/New_York')).toEqual([
      '2026-11-01T05:00:00.000Z',
      '2026-11-01T05:30:00.000Z',
      '2026-11-01T07:00:00.000Z',
    ]);
  });

  it('count a day of 23 or 25 hours by its slots, not by 24 hours', () => {
    const daily = parseSchedule('cron(0 9 * * ? *)');
    expect(upcoming(daily, '2026-03-28T12:00:00Z', 2, 'Europe/London')).toEqual(['2026-03-29T08:00:00.000Z', '2026-03-30T08:00:00.000Z']);
    expect(upcoming(daily, '2026-10-24T12:00:00Z', 2, 'Europe/London')).toEqual(['2026-10-25T09:00:00.000Z', '2026-10-26T09:00:00.000Z']);
    // Every minute of London's 25-hour day, 00:00 BST to 23:59 GMT: the repeated hour once, 24 hours of slots.
    const everyMinute = parseSchedule('cron(* * * * ? *)');
    const slots = slotsAtOrBefore(everyMinute, new Date('2026-10-25T23:59:00Z'), {
      count: 10_000,
      after: new Date('2026-10-24T22:59:00Z'),
      timeZone: 'Europe/London',
    });
    expect(slots).toHaveLength(24 * 60);
    expect(new Set(slots.map((slot) => slot.getTime())).size).toBe(24 * 60);
  });
});

describe('slotsAtOrBefore', () => {
  it('answers the latest slots, oldest first, the one at `at` included, none at or before `after`', () => {
    const everyMinute = parseSchedule('rate(1 minute)');
    const at = new Date('2026-01-01T03:00:30Z');
    expect(iso(slotsAtOrBefore(everyMinute, at, { count: 1 }))).toEqual(['2026-01-01T03:00:00.000Z']);
    expect(iso(slotsAtOrBefore(everyMinute, at, { count: 3 }))).toEqual(['2026-01-01T02:58:00.000Z', '2026-01-01T02:59:00.000Z', '2026-01-01T03:00:00.000Z']);
    expect(iso(slotsAtOrBefore(everyMinute, at, { count: 3, after: new Date('2026-01-01T02:58:00Z') }))).toEqual([
      '2026-01-01T02:59:00.000Z',
      '2026-01-01T03:00:00.000Z',
    ]);
    const cron = parseSchedule('cron(* * * * ? *)');
    expect(iso(slotsAtOrBefore(cron, at, { count: 3, after: new Date('2026-01-01T02:58:00Z') }))).toEqual([
      '2026-01-01T02:59:00.000Z',
      '2026-01-01T03:00:00.000Z',
    ]);
  });

  it('stops looking back at `after`, so a rare schedule costs no long search', () => {
    const yearly = parseSchedule('cron(0 9 1 1 ? *)');
    expect(slotsAtOrBefore(yearly, new Date('2026-06-01T00:00:00Z'), { count: 1, after: new Date('2026-05-25T00:00:00Z') })).toEqual([]);
  });
});

describe('isTimeZone', () => {
  it('knows IANA names and refuses anything else', () => {
    for (const zone of ['UTC', 'Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'Etc/GMT-1']) expect(isTimeZone(zone), zone).toBe(true);
    for (const zone of ['Mars/Olympus', '+02:00', 'CEST+1', '']) expect(isTimeZone(zone), zone).toBe(false);
  });
});
