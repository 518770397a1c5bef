import { describe, expect, it } from 'vitest';
import {
  canonicalTimeZone,
  formatInZone,
  instantToZoned,
  isoInZone,
  isTimeZone,
  offsetMinutes,
  zonedDay,
  zonedToInstant,
} from '../../src/lib/time-zone.ts';
import { sendAtFromForm } from '../../src/web/send-form.ts';
import { ValidationError } from '../../src/lib/errors.ts';

/** The site's time zone: names, and wall-clock times both ways, across the changes of offset. */
describe('time zone names', () => {
  it('knows IANA names and UTC, and refuses the rest', () => {
    for (const z of ['UTC', 'Europe/Paris', 'America/Los_Angeles', 'Pacific/Auckland', 'Asia/Kolkata']) expect(isTimeZone(z)).toBe(true);
    for (const z of ['', 'Mars/Olympus', 'Europe/Pariss', 'x'.repeat(65), 'Paris']) expect(isTimeZone(z)).toBe(false);
    expect(canonicalTimeZone('europe/paris')).toBe('Europe/Paris');
  });
});

describe('wall-clock times in Europe/Paris around the changes of 2026 (29 March, 25 October)', () => {
  const Z = 'Europe/Paris';
  it('reads a time on either side of the spring change with the offset in force then', () => {
    expect(zonedToInstant('2026-03-29T01:30', Z)).toEqual(new Date('2026-03-29T00:30:00Z')); // CET, +01:00
    expect(zonedToInstant('2026-03-29T03:30', Z)).toEqual(new Date('2026-03-29T01:30:00Z')); // CEST, +02:00
    expect(zonedToInstant('2026-03-28T09:00', Z)).toEqual(new Date('2026-03-28T08:00:00Z'));
    expect(zonedToInstant('2026-03-30T09:00', Z)).toEqual(new Date('2026-03-30T07:00:00Z'));
  });

  it('puts a time skipped by the spring change just after the gap', () => {
    // 02:30 does not exist that night: the clock goes from 01:59 to 03:00.
    const at = zonedToInstant('2026-03-29T02:30', Z)!;
    expect(at).toEqual(new Date('2026-03-29T01:30:00Z'));
    expect(instantToZoned(at, Z)).toBe('2026-03-29T03:30');
  });

  it('reads a time that happens twice in autumn as the first (summer time)', () => {
    expect(zonedToInstant('2026-10-25T02:30', Z)).toEqual(new Date('2026-10-25T00:30:00Z'));
    expect(instantToZoned(new Date('2026-10-25T00:30:00Z'), Z)).toBe('2026-10-25T02:30');
    expect(instantToZoned(new Date('2026-10-25T01:30:00Z'), Z)).toBe('2026-10-25T02:30');
    expect(zonedToInstant('2026-10-25T03:30', Z)).toEqual(new Date('2026-10-25T02:30:00Z'));
  });

  it('round-trips every quarter hour of both change days', () => {
    for (const day of ['2026-03-29', '2026-10-25']) {
      const start = zonedToInstant(`${day}T00:00`, Z)!.getTime();
      for (let m = 0; m < 25 * 60; m += 15) {
        const at = new Date(start + m * 60_000);
        expect(zonedToInstant(instantToZoned(at, Z), Z)!.getTime() - at.getTime()).toBeLessThanOrEqual(0);
        expect(instantToZoned(zonedToInstant(instantToZoned(at, Z), Z)!, Z)).toBe(instantToZoned(at, Z));
      }
    }
  });

  it('writes offsets, ISO strings and days in the zone', () => {
    expect(offsetMinutes(new Date('2026-01-15T12:00:00Z'), Z)).toBe(60);
    expect(offsetMinutes(new Date('2026-07-15T12:00:00Z'), Z)).toBe(120);
    expect(isoInZone(new Date('2026-07-15T12:00:00Z'), Z)).toBe('2026-07-15T14:00:00+02:00');
    expect(isoInZone(new Date('2026-07-15T12:00:00Z'), 'America/Los_Angeles')).toBe('2026-07-15T05:00:00-07:00');
    expect(zonedDay(new Date('2026-07-15T12:30:00Z'), 'Pacific/Auckland')).toBe('2026-07-16');
    expect(formatInZone(new Date('2026-07-15T12:00:00Z'), Z)).toMatch(/15 Jul 2026, 14:00 \(Europe\/Paris\)/);
  });

  it('refuses text that is no time', () => {
    for (const v of ['2026-02-31T10:00', '2026-13-01T10:00', '2026-01-01T24:00', 'tomorrow', '2026-01-01 10:00']) {
      expect(zonedToInstant(v, Z)).toBeUndefined();
    }
  });
});

describe('the send form reads its time in the site zone', () => {
  it('turns the typed time into the instant of that zone', () => {
    expect(sendAtFromForm('2026-03-29T09:00', 'Europe/Paris')).toEqual(new Date('2026-03-29T07:00:00Z'));
    expect(sendAtFromForm('2026-03-28T09:00', 'Europe/Paris')).toEqual(new Date('2026-03-28T08:00:00Z'));
    expect(sendAtFromForm('2026-03-28T09:00', 'UTC')).toEqual(new Date('2026-03-28T09:00:00Z'));
    expect(sendAtFromForm('', 'Europe/Paris')).toBeUndefined();
    expect(() => sendAtFromForm('soon', 'Europe/Paris')).toThrow(ValidationError);
  });
});
