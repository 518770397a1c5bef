/**
 * The site's time zone (an IANA name such as "Europe/Paris"): checking a name, turning a wall-clock
 * time typed in a form into an instant, and an instant back into the wall-clock time a form shows.
 * Only Intl: no zone database of our own, so the rules are Node's (ICU's), the same as PostgreSQL's
 * up to their update dates.
 */

import { BoundedMap } from './bounded-map.ts';
// Answers kept by name: the site settings are parsed on every page, and making an
// Intl.DateTimeFormat to check a zone costs more than the rest of the parse. Bounded.
const known = new Map<string, string | null>();

function canonical(name: string): string | null {
  let found = known.get(name);
  if (found !== undefined) return found;
  try {
    found = new Intl.DateTimeFormat('en', { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    found = null;
  }
  if (known.size >= 1_000) known.clear();
  known.set(name, found);
  return found;
}

/** Whether Intl knows the zone (an IANA name or "UTC"). */
export function isTimeZone(name: string): boolean {
  if (name.length === 0 || name.length > 64) return false;
  return canonical(name) !== null;
}

/** The zone's canonical spelling as Intl writes it ("europe/paris" → "Europe/Paris"). */
export function canonicalTimeZone(name: string): string {
  const found = name.length === 0 || name.length > 64 ? null : canonical(name);
  if (found === null) throw new RangeError(`Invalid time zone specified: ${name}`);
  return found;
}

/** One formatter per zone; bounded (zones come from settings and stored rows). */
export const partsFormat = new BoundedMap<string, Intl.DateTimeFormat>(64);

function formatFor(zone: string): Intl.DateTimeFormat {
  let f = partsFormat.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsFormat.set(zone, f);
  }
  return f;
}

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallOf(at: Date, zone: string): Wall {
  const parts = Object.fromEntries(
    formatFor(zone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** The zone's offset from UTC at an instant, in minutes (Paris in summer: 120). */
export function offsetMinutes(at: Date, zone: string): number {
  const w = wallOf(at, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return Math.round((asUtc - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
}

const LOCAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * A wall-clock time in the zone (`YYYY-MM-DDTHH:MM[:SS]`, what `<input type="datetime-local">`
 * sends) as an instant, or undefined when the text is not such a time.
 *
 * Around a change of offset: a time that does not exist (Paris, 02:30 on the last Sunday of March)
 * is read with the offset before the change, so it lands after the gap (03:30), as a clock moved
 * forward would show; a time that exists twice (02:30 on the last Sunday of October) is the first
 * of the two (summer time), the earlier instant.
 */
export function zonedToInstant(local: string, zone: string): Date | undefined {
  const m = LOCAL.exec(local);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1).map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return undefined;
  const asUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  if (new Date(asUtc).getUTCDate() !== day) return undefined; // 31 February
  // The offsets in force a day either side cover any change of offset near this time.
  const before = offsetMinutes(new Date(asUtc - 86_400_000), zone);
  const after = offsetMinutes(new Date(asUtc + 86_400_000), zone);
  const candidates = [...new Set([before, after])]
    .map((offset) => new Date(asUtc - offset * 60_000))
    .filter((at) => {
      const w = wallOf(at, zone);
      return w.year === year && w.month === month && w.day === day && w.hour === hour && w.minute === minute && w.second === second;
    })
    .sort((a, b) => a.getTime() - b.getTime());
  // Exists (once or twice): the earlier. In a gap: the offset before the change.
  return candidates[0] ?? new Date(asUtc - before * 60_000);
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** An instant as the zone's wall-clock time, `YYYY-MM-DDTHH:MM` (a datetime-local input's value). */
export function instantToZoned(at: Date, zone: string): string {
  const w = wallOf(at, zone);
  return `${pad(w.year, 4)}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** The zone's calendar day of an instant, `YYYY-MM-DD`. */
export function zonedDay(at: Date, zone: string): string {
  return instantToZoned(at, zone).slice(0, 10);
}

/** An instant for people: "29 Mar 2026, 03:30 (Europe/Paris)". */
export function formatInZone(at: Date, zone: string): string {
  const text = new Intl.DateTimeFormat('en-GB', { timeZone: zone, dateStyle: 'medium', timeStyle: 'short' }).format(at);
  return `${text} (${zone})`;
}

/** An instant as ISO 8601 with the zone's offset: `2026-03-29T03:30:00+02:00`. */
export function isoInZone(at: Date, zone: string): string {
  const offset = offsetMinutes(at, zone);
  const local = new Date(at.getTime() + offset * 60_000);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${local.toISOString().slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}
