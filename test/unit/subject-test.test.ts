import { describe, expect, it } from 'vitest';
import { statusFromBatches } from '../../src/domain/sending/lifecycle.ts';
import { formatDuration, judgeWinner, parseDuration, parseSubjectTest } from '../../src/domain/sending/subject-test.ts';
import { ValidationError } from '../../src/lib/errors.ts';

/** The pure parts of subject tests: durations, the input's rules, the verdict and its words. */
const v = (subject: number, uniqueHumanClicks: number, humanOpens: number, machineOpens = 0) => ({
  subject,
  recipients: 10,
  delivered: 10,
  humanOpens,
  machineOpens,
  uniqueHumanClicks,
});

describe('parseDuration', () => {
  it('reads days, hours, minutes and seconds', () => {
    expect(parseDuration('PT4H')).toBe(14_400);
    expect(parseDuration('PT30M')).toBe(1_800);
    expect(parseDuration('PT90S')).toBe(90);
    expect(parseDuration('P1DT12H')).toBe(129_600);
    expect(parseDuration('P7D')).toBe(604_800);
  });
  it('refuses what is not one', () => {
    for (const bad of ['', 'P', 'PT', '4h', 'PT4', 'P1W', 'P1M', 'PT-1H', 'P1DT', 'four hours']) expect(parseDuration(bad), bad).toBeNull();
  });
  it('writes it back', () => {
    expect(formatDuration(14_400)).toBe('PT4H');
    expect(formatDuration(129_600 + 61)).toBe('P1DT12H1M1S');
  });
});

describe('parseSubjectTest', () => {
  it('is null without subjects, and fills the defaults', () => {
    expect(parseSubjectTest({ subjects: undefined })).toBeNull();
    expect(parseSubjectTest({ subjects: [' One ', 'Two'] })).toEqual({ subjects: ['One', 'Two'], sample: 0.2, waitSeconds: 14_400 });
  });
  it('refuses 1 or 5 subjects, a sample outside (0, 1), a wait that is not ISO-8601 or longer than 7 days', () => {
    const bad = [
      { subjects: ['a'] },
      { subjects: ['a', 'b', 'c', 'd', 'e'] },
      { subjects: ['a', 'b'], test: { sample: 0 } },
      { subjects: ['a', 'b'], test: { sample: 1 } },
      { subjects: ['a', 'b'], test: { sample: '0.2' } },
      { subjects: ['a', 'b'], test: { wait: 'PT0S' } },
      { subjects: ['a', 'b'], test: { wait: 'P7DT1S' } },
      { subjects: ['a', 'b'], test: { wait: 4 } },
      { subjects: undefined, test: { sample: 0.2 } },
    ];
    for (const input of bad) expect(() => parseSubjectTest(input), JSON.stringify(input)).toThrow(ValidationError);
  });
});

describe('judgeWinner', () => {
  it('goes by unique human clicks, whatever the machine opens', () => {
    expect(judgeWinner([v(0, 9, 3, 0), v(1, 14, 2, 0)])).toEqual({ winner: 1, rule: 'human clicks 14 vs 9' });
    expect(judgeWinner([v(0, 3, 1, 0), v(1, 2, 1, 500)])).toEqual({ winner: 0, rule: 'human clicks 3 vs 2' });
  });
  it('breaks a tie on clicks with human opens, then takes the first subject', () => {
    expect(judgeWinner([v(0, 4, 5), v(1, 4, 8), v(2, 1, 20)])).toEqual({ winner: 1, rule: 'tie on clicks (4), human opens 8 vs 5' });
    expect(judgeWinner([v(0, 0, 0), v(1, 0, 0)])).toEqual({ winner: 0, rule: 'tie on clicks (0) and human opens (0): first subject' });
  });
});

describe('statusFromBatches with a held rest', () => {
  it('stays sending while the rest waits for the winner, and fails on a failed batch', () => {
    expect(statusFromBatches({ posted: 2, held: 3 })).toBe('sending');
    expect(statusFromBatches({ posted: 2, failed: 1, held: 3 })).toBe('failed');
    expect(statusFromBatches({ posted: 5 })).toBe('sent');
  });
});
