import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BoundedMap } from '../../src/lib/bounded-map.ts';
import { dateFormats, formatDate, formatMoney, loadCatalogues, numberFormats, t } from '../../src/lib/i18n.ts';
import { offsetMinutes, partsFormat } from '../../src/lib/time-zone.ts';
import { commentTime, timeFormats } from '../../src/web/conversation-pages.ts';

// Every in-process cache whose keys come from input has a bound: a stream of distinct keys (zones,
// languages, currencies) never grows the process past it (issue 24, "memory that comes back").
const zones = Intl.supportedValuesOf('timeZone');
const currencies = Intl.supportedValuesOf('currency');
const at = new Date('2027-03-03T23:30:00Z');

describe('BoundedMap', () => {
  it('drops the oldest key when a new one would pass the bound', () => {
    const m = new BoundedMap<string, number>(3);
    for (const [i, k] of ['a', 'b', 'c', 'd', 'e'].entries()) m.set(k, i);
    expect([...m.keys()]).toEqual(['c', 'd', 'e']);
    expect(m.get('a')).toBeUndefined();
  });

  it('replaces an existing key in place without dropping another', () => {
    const m = new BoundedMap<string, number>(2);
    m.set('a', 1).set('b', 2).set('a', 3);
    expect([...m.entries()]).toEqual([
      ['a', 3],
      ['b', 2],
    ]);
  });

  it('refuses a bound that is not a positive whole number', () => {
    expect(() => new BoundedMap(0)).toThrow(RangeError);
    expect(() => new BoundedMap(1.5)).toThrow(RangeError);
  });
});

describe('formatter caches stay bounded whatever the keys', () => {
  it('has enough distinct zones and currencies to pass every bound', () => {
    expect(zones.length).toBeGreaterThan(300);
    expect(currencies.length).toBeGreaterThan(150);
  });

  it('comment times: one formatter per zone, at most 64', () => {
    for (const zone of zones) commentTime(at, zone);
    expect(timeFormats.size).toBe(timeFormats.max);
    expect(timeFormats.max).toBe(64);
    // Still right after eviction: the oldest zone is made again.
    expect(commentTime(at, 'Europe/Paris')).toBe('Mar 4, 2027, 12:30 AM Europe/Paris');
  });

  it('zone offsets: one formatter per zone, at most 64', () => {
    for (const zone of zones) offsetMinutes(at, zone);
    expect(partsFormat.size).toBe(64);
    expect(offsetMinutes(at, 'Asia/Kolkata')).toBe(330);
  });

  it('dates: one formatter per language, zone and style, at most 256', () => {
    for (const zone of zones) for (const code of ['en', 'fr']) formatDate(code, at, zone);
    expect(dateFormats.size).toBe(256);
    expect(formatDate('fr', at, 'Europe/Paris')).toBe('4 mars 2027');
  });

  it('money: one formatter per language and currency, at most 256', () => {
    for (const currency of currencies) for (const code of ['en', 'fr']) formatMoney(code, 1234, currency);
    expect(numberFormats.size).toBe(256);
    expect(formatMoney('en', 1234, 'usd')).toBe('$12.34');
  });
});

describe('compiled messages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bounded-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('are kept only for keys of the catalogue: unknown keys compile nothing new', () => {
    mkdirSync(join(dir, 'en'));
    mkdirSync(join(dir, 'fr'));
    writeFileSync(join(dir, 'en', 'a.json'), JSON.stringify({ hi: 'Hello {name}', bye: 'Bye' }));
    writeFileSync(join(dir, 'fr', 'a.json'), JSON.stringify({ hi: 'Bonjour {name}' }));
    const c = loadCatalogues([dir]);
    for (let i = 0; i < 500; i++) t('fr', 'a.hi', { name: `n${i}` }, c);
    for (let i = 0; i < 50; i++) expect(() => t('fr', `a.missing${i}`, {}, c)).toThrow();
    t('fr', 'a.bye', {}, c);
    // One compiled message per catalogue key, whatever the values or the keys asked for.
    expect(c.languages.get('fr')!.compiled.size).toBe(1);
    expect(c.languages.get('en')!.compiled.size).toBe(1);
    expect(c.languages.get('en')!.compiled.size + c.languages.get('fr')!.compiled.size).toBeLessThanOrEqual(
      c.languages.get('en')!.messages.size + c.languages.get('fr')!.messages.size,
    );
  });
});
