import { formatMoney, type Translator } from '../lib/i18n.ts';
import type { AudienceSettings, LandingCopy } from '../domain/landing/settings.ts';
import { platformLabel } from '../domain/landing/settings.ts';

/**
 * Reader-page text that is more than one catalogue lookup: money and percentages written the way
 * the reader's language writes them, and the join pages' default copy. The catalogue is
 * locales/<code>/reader.json; domain errors on reader pages are told by web/reader-errors.ts.
 */

/** An amount in a currency's minor unit, in the reader's language ("$10.00", "10,00 $US"). */
export function readerMoney(tr: Translator, minor: number, currency: string | null | undefined): string {
  return formatMoney(tr.lang, minor, currency ?? 'usd');
}

const percentFormats = new Map<string, Intl.NumberFormat>();

/** A whole percentage in the reader's language ("50%", "50 %"). */
export function readerPercent(tr: Translator, percent: number): string {
  let format = percentFormats.get(tr.lang);
  if (!format) {
    format = new Intl.NumberFormat(tr.lang, { style: 'percent', maximumFractionDigits: 2 });
    percentFormats.set(tr.lang, format);
  }
  return format.format(percent / 100);
}

const listFormats = new Map<string, Intl.ListFormat>();

/** "A, B and C" in the reader's language. */
export function readerList(tr: Translator, items: readonly string[]): string {
  let format = listFormats.get(tr.lang);
  if (!format) {
    format = new Intl.ListFormat(tr.lang, { type: 'conjunction' });
    listFormats.set(tr.lang, format);
  }
  return format.format(items);
}

/** A join page's copy: what staff wrote for it (in whatever language they wrote), else the catalogue's default. */
export function joinCopy(tr: Translator, audience: AudienceSettings, siteTitle: string, platform: string | null): LandingCopy {
  const own = audience.landing[platform ?? 'default'];
  if (own) return own;
  if (platform) {
    return {
      headline: tr.t('reader.join.platformHeadline', { platform: platformLabel(platform), site: siteTitle }),
      intro: tr.t('reader.join.platformIntro'),
    };
  }
  return { headline: tr.t('reader.join.headline', { site: siteTitle }), intro: tr.t('reader.join.intro') };
}
