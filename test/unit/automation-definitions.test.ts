import { describe, expect, it } from 'vitest';
import { branchTarget, checkDefinition, durationSeconds, nextWeekdayTime } from '../../src/domain/automations/definitions.ts';
import { ValidationError } from '../../src/lib/errors.ts';

const def = (steps: Parameters<typeof checkDefinition>[0]['steps']) => ({
  name: 'x',
  trigger: { type: 'subscription_confirmed' as const },
  steps,
});

describe('ISO-8601 durations', () => {
  it('reads seconds to years', () => {
    expect(durationSeconds('PT30S')).toBe(30);
    expect(durationSeconds('PT6H')).toBe(21_600);
    expect(durationSeconds('P2D')).toBe(172_800);
    expect(durationSeconds('P1W')).toBe(604_800);
    expect(durationSeconds('P1DT1H1M1S')).toBe(90_061);
    expect(durationSeconds('P1Y')).toBe(365 * 86_400);
  });
  it('refuses what is not a duration', () => {
    for (const bad of ['', 'P', 'PT', '2D', 'P2H', 'PT-1S', 'P1.5D']) expect(durationSeconds(bad)).toBeUndefined();
  });
});

describe('rules of a definition', () => {
  it('refuses a skip back (a loop) and a skip to no step', () => {
    expect(() =>
      checkDefinition(
        def([
          { type: 'email', subject: 'a', markdown: 'a' },
          { type: 'condition', if: { paid: true }, then: { skip_to: 1 } },
        ]),
      ),
    ).toThrow(/loop/);
    expect(() => checkDefinition(def([{ type: 'condition', if: { paid: true }, else: { skip_to: 9 } }]))).toThrow(ValidationError);
    expect(() => checkDefinition(def([{ type: 'condition', if: { paid: true }, then: { skip_to: 2 } }]))).not.toThrow();
  });
  it('refuses waits over a year, and "clicked the previous email" with no email before', () => {
    expect(() => checkDefinition(def([{ type: 'wait', duration: 'P366D' }]))).toThrow(/at most a year/);
    expect(() => checkDefinition(def([{ type: 'wait', duration: 'P1Y' }]))).not.toThrow();
    expect(() => checkDefinition(def([{ type: 'condition', if: { clicked_previous_email: true } }]))).toThrow(/email step before/);
    expect(() => checkDefinition(def([{ type: 'wait', until: { weekday: 'monday', time: '25:00' } }]))).toThrow(/HH:MM/);
  });
  it('maps branches to step indexes', () => {
    expect(branchTarget('continue', 2)).toBe(3);
    expect(branchTarget('exit', 2)).toBe('exit');
    expect(branchTarget({ skip_to: 5 }, 2)).toBe(4);
  });
});

describe('wait until a weekday and time in the site time zone', () => {
  it('is the next such moment, across a change of offset', () => {
    // Friday 27 March 2026, 10:00 in Paris (UTC+1); Monday 30 March 09:00 is summer time (UTC+2).
    const at = nextWeekdayTime(new Date('2026-03-27T09:00:00Z'), { weekday: 'monday', time: '09:00' }, 'Europe/Paris');
    expect(at.toISOString()).toBe('2026-03-30T07:00:00.000Z');
    // The same weekday, later the same day, and a week later once past.
    expect(nextWeekdayTime(new Date('2026-03-30T06:00:00Z'), { weekday: 'monday', time: '09:00' }, 'Europe/Paris').toISOString()).toBe(
      '2026-03-30T07:00:00.000Z',
    );
    expect(nextWeekdayTime(new Date('2026-03-30T08:00:00Z'), { weekday: 'monday', time: '09:00' }, 'Europe/Paris').toISOString()).toBe(
      '2026-04-06T07:00:00.000Z',
    );
  });
});
