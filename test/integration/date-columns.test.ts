import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * A `date` column is a calendar day whatever the machine's time zone (src/lib/db.ts): read as that
 * day's midnight UTC, and the same day when sent back as a parameter. pg's default read local
 * midnight, a day early in UTC east of Greenwich; CI and laptops do not all run in UTC.
 */
let t: TestDatabase;
const machineZone = process.env.TZ;

beforeAll(async () => {
  t = await createTestDatabase();
});
afterEach(() => {
  if (machineZone === undefined) delete process.env.TZ;
  else process.env.TZ = machineZone;
});
afterAll(async () => {
  await t?.drop();
});

describe('date columns', () => {
  it.each(['Pacific/Kiritimati', 'Europe/Paris', 'UTC', 'America/Los_Angeles', 'Pacific/Pago_Pago'])(
    'are the same day on a machine in %s, read and sent back (a leap day, DST days, the year end)',
    async (zone) => {
      process.env.TZ = zone;
      // The machine's zone did change: local midnight is not UTC midnight there (except in UTC).
      expect(new Date(2026, 2, 29).getTimezoneOffset() === 0).toBe(zone === 'UTC');
      for (const day of ['2028-02-29', '2026-03-29', '2026-10-25', '2026-12-31', '2027-01-01']) {
        const { d } = (await sql<{ d: Date }>`select ${day}::date as d`.execute(t.db)).rows[0]!;
        expect(d.toISOString()).toBe(`${day}T00:00:00.000Z`);
        const back = (await sql<{ s: string }>`select ${d}::date::text as s`.execute(t.db)).rows[0]!;
        expect(back.s).toBe(day);
      }
      // An instant is unchanged by the machine's zone, both ways.
      const at = new Date('2026-03-29T00:30:00Z');
      const row = (
        await sql<{
          at: Date;
          iso: string;
        }>`select ${at}::timestamptz as at, to_char(${at}::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI') as iso`.execute(t.db)
      ).rows[0]!;
      expect(row.at.getTime()).toBe(at.getTime());
      expect(row.iso).toBe('2026-03-29T00:30');
    },
  );
});
