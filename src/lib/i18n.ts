import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { IntlMessageFormat } from 'intl-messageformat';
import { BoundedMap } from './bounded-map.ts';

/**
 * Reader-facing text in several languages: ICU MessageFormat catalogues (intl-messageformat),
 * one folder per language under `locales/` (`locales/fr/pages.json`, `locales/fr/emails.json`, …,
 * and an optional `meta.json` with `{"name":"Français","dir":"ltr"}`). A message's key is its
 * file's name and its key in the file: `emails.welcome.subject`.
 *
 * The catalogues are read from disk once, when first needed, so a brand adds a language by
 * adding a folder (no build, no code). Each message is parsed once per language, the first time
 * it is used, and kept: a page render only calls the compiled formatter. Dates and numbers go
 * through Intl formatters kept per language and time zone for the same reason.
 *
 * A message missing in a language falls back to English, so a reader never sees a key; the
 * catalogue tests (test/unit/i18n.test.ts) fail on any missing or unused key, so that fallback
 * never happens for the languages Hearth ships. A key missing in English too is a programming
 * error and throws.
 */

export const DEFAULT_LANGUAGE = 'en';

export interface LanguageMeta {
  code: string;
  /** The language's own name for itself ("Français"). */
  name: string;
  dir: 'ltr' | 'rtl';
}

export type MessageValues = Record<string, string | number | Date | null | undefined>;

export class MissingMessageError extends Error {}

interface Language {
  meta: LanguageMeta;
  messages: Map<string, string>;
  compiled: Map<string, IntlMessageFormat>;
}

export interface Catalogues {
  languages: ReadonlyMap<string, Language>;
}

/** ISO 639-1 (two lower-case letters); a folder of another name is not a language. */
const CODE = /^[a-z]{2}$/;

function flatten(prefix: string, value: unknown, into: Map<string, string>, file: string): void {
  if (typeof value === 'string') {
    into.set(prefix, value);
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`${file}: ${prefix} is not a string`);
  for (const [k, v] of Object.entries(value)) flatten(`${prefix}.${k}`, v, into, file);
}

/**
 * Reads every `<dir>/<code>/*.json` of the given folders (a later folder adds languages or
 * overrides messages of an earlier one). Throws on a file that is not a catalogue.
 */
export function loadCatalogues(dirs: readonly string[]): Catalogues {
  const languages = new Map<string, Language>();
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    for (const code of readdirSync(dir).sort()) {
      if (!CODE.test(code)) continue;
      const folder = join(dir, code);
      const lang = languages.get(code) ?? { meta: { code, name: code, dir: 'ltr' }, messages: new Map(), compiled: new Map() };
      for (const file of readdirSync(folder).sort()) {
        if (!file.endsWith('.json')) continue;
        const path = join(folder, file);
        const data: unknown = JSON.parse(readFileSync(path, 'utf8'));
        if (file === 'meta.json') {
          const meta = data as Partial<LanguageMeta>;
          lang.meta = { code, name: typeof meta.name === 'string' ? meta.name : code, dir: meta.dir === 'rtl' ? 'rtl' : 'ltr' };
          continue;
        }
        flatten(basename(file, '.json'), data, lang.messages, path);
      }
      languages.set(code, lang);
    }
  }
  return { languages };
}

/** The project's `locales/` folder: beside src/ when run from source, above dist/ when built. */
function findLocalesDir(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'locales');
    if (existsSync(join(candidate, DEFAULT_LANGUAGE))) return candidate;
    dir = dirname(dir);
  }
  return join(process.cwd(), 'locales');
}

let shipped: Catalogues | undefined;

/** The catalogues of this install (read once). */
export function catalogues(): Catalogues {
  shipped ??= loadCatalogues([findLocalesDir()]);
  return shipped;
}

/** The languages a site may choose, by code, English first. */
export function availableLanguages(c: Catalogues = catalogues()): LanguageMeta[] {
  return [...c.languages.values()]
    .map((l) => l.meta)
    .sort((a, b) => (a.code === DEFAULT_LANGUAGE ? -1 : b.code === DEFAULT_LANGUAGE ? 1 : a.code.localeCompare(b.code)));
}

export function isLanguage(code: string, c: Catalogues = catalogues()): boolean {
  return c.languages.has(code);
}

export function languageMeta(code: string, c: Catalogues = catalogues()): LanguageMeta {
  return c.languages.get(code)?.meta ?? { code, name: code, dir: 'ltr' };
}

function compiled(c: Catalogues, code: string, key: string): IntlMessageFormat {
  const lang = c.languages.get(code) ?? c.languages.get(DEFAULT_LANGUAGE);
  let found = lang?.compiled.get(key);
  if (found) return found;
  const source = lang?.messages.get(key);
  if (source === undefined || !lang) {
    if (code === DEFAULT_LANGUAGE) throw new MissingMessageError(`No message "${key}" in the English catalogue`);
    return compiled(c, DEFAULT_LANGUAGE, key);
  }
  found = new IntlMessageFormat(source, lang.meta.code);
  lang.compiled.set(key, found);
  return found;
}

/** Rich-text tags a message may use in HTML: `<b>…</b>` is bold; the caller adds links (`<a>`). */
type Tag = (chunks: string[]) => string;
const HTML_TAGS: Record<string, Tag> = { b: (c) => `<strong>${c.join('')}</strong>`, i: (c) => `<em>${c.join('')}</em>` };
const TEXT_TAGS: Record<string, Tag> = { b: (c) => c.join(''), i: (c) => c.join(''), a: (c) => c.join(''), big: (c) => c.join('') };

const escapeHtml = (value: string) =>
  value.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);

function run(c: Catalogues, code: string, key: string, values: Record<string, unknown>): string {
  const out = compiled(c, code, key).format(values as Record<string, string>);
  return Array.isArray(out) ? out.join('') : String(out);
}

/** A message as plain text (tags dropped, values as given). */
export function t(code: string, key: string, values: MessageValues = {}, c: Catalogues = catalogues()): string {
  return run(c, code, key, { ...TEXT_TAGS, ...values });
}

/**
 * A message as HTML: string values are escaped, `<b>` becomes <strong>, and `tags` (such as a
 * link `a: (chunks) => '<a href="…">' + chunks.join('') + '</a>'`) wrap their part.
 */
export function tHtml(
  code: string,
  key: string,
  values: MessageValues = {},
  tags: Record<string, Tag> = {},
  c: Catalogues = catalogues(),
): string {
  const escaped: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) escaped[k] = typeof v === 'string' ? escapeHtml(v) : v;
  return run(c, code, key, { ...TEXT_TAGS, ...HTML_TAGS, ...tags, ...escaped });
}

export type DateStyle = 'long' | 'medium' | 'short' | 'dateTime';
/** Formatters by language, zone and style; bounded (a key per combination met, each cheap to remake). */
export const dateFormats = new BoundedMap<string, Intl.DateTimeFormat>(256);
const DATE_OPTIONS: Record<DateStyle, Intl.DateTimeFormatOptions> = {
  long: { dateStyle: 'long' },
  medium: { dateStyle: 'medium' },
  short: { dateStyle: 'short' },
  dateTime: { dateStyle: 'long', timeStyle: 'short' },
};

/** A date in a language and a time zone (the site's); the formatter is made once per triple. */
export function formatDate(code: string, date: Date, timeZone = 'UTC', style: DateStyle = 'long'): string {
  const key = `${code}|${timeZone}|${style}`;
  let format = dateFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(code, { ...DATE_OPTIONS[style], timeZone });
    dateFormats.set(key, format);
  }
  return format.format(date);
}

/** Formatters by language and currency; bounded like dateFormats. */
export const numberFormats = new BoundedMap<string, Intl.NumberFormat>(256);

/**
 * How many decimal places Stripe's amounts have in a currency: Stripe's list, not the language's
 * (Intl writes ISK, HUF and IDR without decimals, but Stripe's 100 is 1 ISK, 1 HUF, 1 IDR).
 * https://docs.stripe.com/currencies#zero-decimal and #three-decimal; every other currency has 2.
 */
const STRIPE_ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
const STRIPE_THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

/** The decimal places of a currency's minor unit as Stripe counts them (0, 2 or 3). */
export function minorUnitDigits(currency: string): 0 | 2 | 3 {
  const code = currency.toLowerCase();
  return STRIPE_ZERO_DECIMAL.has(code) ? 0 : STRIPE_THREE_DECIMAL.has(code) ? 3 : 2;
}

/**
 * An amount in a currency's minor unit (Stripe's: cents, yen, fils), as the language writes it:
 * formatMoney('fr', 1234, 'eur') is "12,34 €", formatMoney('en', 1234, 'jpy') "¥1,234".
 */
export function formatMoney(code: string, minor: number, currency: string): string {
  const key = `${code}|${currency}`;
  let format = numberFormats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(code, { style: 'currency', currency: currency.toUpperCase() });
    numberFormats.set(key, format);
  }
  return format.format(minor / 10 ** minorUnitDigits(currency));
}

/** A translator bound to one language: what templates and pages take. */
export interface Translator {
  lang: string;
  dir: 'ltr' | 'rtl';
  t(key: string, values?: MessageValues): string;
  html(key: string, values?: MessageValues, tags?: Record<string, Tag>): string;
  date(date: Date, style?: DateStyle): string;
}

export function translator(code: string, timeZone = 'UTC', c: Catalogues = catalogues()): Translator {
  const lang = c.languages.has(code) ? code : DEFAULT_LANGUAGE;
  return {
    lang,
    dir: languageMeta(lang, c).dir,
    t: (key, values) => t(lang, key, values, c),
    html: (key, values, tags) => tHtml(lang, key, values, tags, c),
    date: (date, style) => formatDate(lang, date, timeZone, style),
  };
}
