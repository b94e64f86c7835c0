/** When messages start under a queue-wide rate, and which are too late to (lib/drain/rateStarts.ts): pure, no database. */
import { describe, expect, it } from 'vitest';
import { RATE_VOUCH_MARGIN_MIN_MS, RateStarts } from '../../lib/drain/rateStarts.js';
import { RATE_WINDOW_SLACK_MS } from '../../lib/sql/permits.js';

const rate = { slots: 10, windowMs: 1_050 };

describe('RateStarts', () => {
  it('lets a message wait for its start time, and finds none to wait for without one', () => {
    const starts = new RateStarts(rate);
    expect(starts.msUntilStart({ notBeforeMs: 1_150 }, 1_000)).toBe(150);
    expect(starts.msUntilStart({ notBeforeMs: 1_000 }, 1_000)).toBe(0);
    expect(starts.msUntilStart({}, 1_000)).toBe(0);
    expect(starts.msUntilStart(undefined, 1_000)).toBe(0);
  });

  it('finds a message late once past its start time and the permits’ slack, and none late without a rate', () => {
    const starts = new RateStarts(rate);
    expect(starts.isLate({ notBeforeMs: 1_000 }, 1_000 + RATE_WINDOW_SLACK_MS)).toBe(false);
    expect(starts.isLate({ notBeforeMs: 1_000 }, 1_000 + RATE_WINDOW_SLACK_MS + 1)).toBe(true);
    expect(starts.isLate({}, 10_000)).toBe(false);
    expect(starts.isLate(undefined, 10_000)).toBe(false);
    expect(new RateStarts(undefined).isLate({ notBeforeMs: 1_000 }, 10_000)).toBe(false);
    expect(new RateStarts(undefined).applies).toBe(false);
    expect(starts.applies).toBe(true);
  });

  it('looks at a due message again the moment it would be late; not at one still to start', () => {
    const starts = new RateStarts(rate);
    expect(starts.msUntilLate({ notBeforeMs: 1_000 }, 1_000)).toBe(RATE_WINDOW_SLACK_MS + 1);
    expect(starts.msUntilLate({ notBeforeMs: 1_000 }, 1_030)).toBe(RATE_WINDOW_SLACK_MS + 1 - 30);
    expect(starts.msUntilLate({ notBeforeMs: 1_001 }, 1_000)).toBeUndefined();
    expect(starts.msUntilLate({}, 1_000)).toBeUndefined();
    expect(starts.msUntilLate(undefined, 1_000)).toBeUndefined();
  });

  it('holds its rate permits a window from the claim that took them, never less than before', () => {
    const starts = new RateStarts(rate);
    expect(starts.holdsPermits(0)).toBe(false);
    starts.took(0, 1_000);
    expect(starts.holdsPermits(1_000)).toBe(false);
    starts.took(3, 1_000);
    expect(starts.holdsPermits(2_049)).toBe(true);
    expect(starts.holdsPermits(2_050)).toBe(false);
    starts.took(1, 500);
    expect(starts.holdsPermits(2_049)).toBe(true);
    const unrated = new RateStarts(undefined);
    unrated.took(3, 1_000);
    expect(unrated.holdsPermits(1_000)).toBe(false);
  });

  it('holds claims back while late messages go back, or the next waits to', () => {
    const starts = new RateStarts(rate);
    expect(starts.lateGoingBack({ notBeforeMs: 1_000 }, 1_000)).toBe(false);
    expect(starts.lateGoingBack({ notBeforeMs: 1_000 }, 1_000 + RATE_WINDOW_SLACK_MS + 1)).toBe(true);
    starts.lateReleaseSent();
    starts.lateReleaseSent();
    expect(starts.lateGoingBack(undefined, 1_000)).toBe(true);
    starts.lateReleaseWritten();
    expect(starts.lateGoingBack(undefined, 1_000)).toBe(true);
    starts.lateReleaseWritten();
    expect(starts.lateGoingBack(undefined, 1_000)).toBe(false);
  });

  it('costs a claim in time nothing more, nor one without a rate or a start time', () => {
    const starts = new RateStarts(rate);
    expect(starts.lateClaim([{ notBeforeMs: 1_000 }], 1_000 + RATE_WINDOW_SLACK_MS, 400)).toBeUndefined();
    expect(starts.lateClaim([], 5_000, 400)).toBeUndefined();
    expect(starts.lateClaim([{}], 5_000, 400)).toBeUndefined();
    expect(new RateStarts(undefined).lateClaim([{ notBeforeMs: 1_000 }], 5_000, 400)).toBeUndefined();
  });

  it('keeps a late claim its permits a window from now plus half its round trips, at least the minimum margin', () => {
    const starts = new RateStarts(rate);
    const sentMs = 2_000;
    expect(starts.lateClaim([{ notBeforeMs: 1_000 }], sentMs, 401)).toEqual({ freeAt: new Date(sentMs + 201 + rate.windowMs), startByMs: sentMs + 201 });
    expect(starts.lateClaim([{ notBeforeMs: 1_000 }], sentMs, 20)).toEqual({
      freeAt: new Date(sentMs + RATE_VOUCH_MARGIN_MIN_MS + rate.windowMs),
      startByMs: sentMs + RATE_VOUCH_MARGIN_MIN_MS,
    });
  });

  it('starts a vouched claim’s messages when the write lands, by the vouched time at the latest, and holds the permits until they free', () => {
    const starts = new RateStarts(rate);
    const messages = [{ notBeforeMs: 1_000 }, { notBeforeMs: 1_000 }];
    const vouch = starts.lateClaim(messages, 2_000, 0)!;
    starts.vouched(messages, vouch, 2_040);
    expect(messages).toEqual([{ notBeforeMs: 2_040 }, { notBeforeMs: 2_040 }]);
    expect(starts.holdsPermits(vouch.freeAt.getTime() - 1)).toBe(true);
    expect(starts.holdsPermits(vouch.freeAt.getTime())).toBe(false);

    // Landed after the vouched time: they keep that time, and are late by it.
    const slow = [{ notBeforeMs: 1_000 }];
    starts.vouched(slow, starts.lateClaim(slow, 2_000, 0)!, 2_500);
    expect(slow).toEqual([{ notBeforeMs: 2_000 + RATE_VOUCH_MARGIN_MIN_MS }]);
    expect(starts.isLate(slow[0], 2_500)).toBe(true);
  });
});

describe('RateStarts for a queue with per-group limits', () => {
  it('times the messages of rated groups as a queue-wide rate does, and leaves the others alone', () => {
    const starts = new RateStarts(undefined, true);
    expect(starts.applies).toBe(true);
    expect(starts.isLate({ notBeforeMs: 1_000 }, 1_000 + RATE_WINDOW_SLACK_MS + 1)).toBe(true);
    expect(starts.isLate({}, 10_000)).toBe(false);
    // A claim landing late vouches from its start; the group permits' windows are their own.
    const messages: { notBeforeMs?: number }[] = [{}, { notBeforeMs: 1_000 }];
    const vouch = starts.lateClaim(messages, 2_000, 100)!;
    expect(vouch.startByMs).toBe(2_000 + RATE_VOUCH_MARGIN_MIN_MS);
    starts.vouched(messages, vouch, 2_050);
    expect(messages).toEqual([{}, { notBeforeMs: 2_050 }]);
    expect(starts.holdsPermits(2_050)).toBe(false);
  });
});
