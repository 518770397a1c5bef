import type { AstroCookies } from 'astro';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { MEMBER_COOKIE } from '../domain/membership/sessions.ts';
import type { SiteSettings } from '../domain/site/settings.ts';
import { DEFAULT_LANGUAGE, availableLanguages, isLanguage, translator, type Translator } from '../lib/i18n.ts';
import { getMemberLanguage } from '../domain/members/language.ts';
import { cachedSiteSettings } from './conversation-cache.ts';
import { signedInMember } from './identity.ts';

/**
 * Which language a request is answered in. A reader page speaks the signed-in member's
 * language, else the site's. `Accept-Language` is read only at subscribe, when the form carries
 * no language of its own (subscribeLanguage): the member's language is then kept, and every page
 * and email after that follows it.
 *
 * Worked out once per request (the layout and the page both ask) and kept beside the request.
 */
export interface ReaderLocale extends Translator {
  site: SiteSettings;
}

const perRequest = new WeakMap<Request, Promise<ReaderLocale>>();

export interface AstroLike {
  request: Request;
  cookies: AstroCookies;
  locals: { runtime: { db: Kysely<Database>; config: { siteUrl: string } } };
}

/**
 * `linkFor`: the member an emailed link is for (its signed token says who: confirmation,
 * preferences, opt-out, address change). Their language speaks when no one is signed in, so a
 * reader who subscribed on a French page of an English site confirms and unsubscribes in French.
 * A page that passes it must ask before its layout does (the first answer is kept).
 */
export function readerLocale(astro: AstroLike, linkFor?: string | null): Promise<ReaderLocale> {
  let found = perRequest.get(astro.request);
  if (!found) {
    found = resolve(astro, linkFor ?? undefined);
    perRequest.set(astro.request, found);
  }
  return found;
}

/**
 * The same, for a page that has already found who is reading (identify): no second session
 * query. Call it before anything else asks for the request's locale.
 */
export function readerLocaleOf(astro: AstroLike, member: { language: string | null } | undefined): Promise<ReaderLocale> {
  let found = perRequest.get(astro.request);
  if (!found) {
    found = cachedSiteSettings(astro.locals.runtime.db).then((site) => localeOf(site, member, null));
    perRequest.set(astro.request, found);
  }
  return found;
}

async function resolve(astro: AstroLike, linkFor: string | undefined): Promise<ReaderLocale> {
  const { db, config } = astro.locals.runtime;
  // A request without a member cookie costs no query beyond the settings the layout reads anyway.
  const [site, member] = await Promise.all([
    cachedSiteSettings(db),
    astro.cookies.get(MEMBER_COOKIE) ? signedInMember(db, astro.cookies, config.siteUrl) : undefined,
  ]);
  const linked = !member && linkFor ? await getMemberLanguage(db, linkFor) : null;
  return localeOf(site, member, linked);
}

function localeOf(site: SiteSettings, member: { language: string | null } | undefined, linked: string | null): ReaderLocale {
  const lang = member?.language && isLanguage(member.language) ? member.language : linked && isLanguage(linked) ? linked : site.language;
  return { ...translator(lang, site.timeZone), site };
}

/** The site's language as a translator, for answers outside a page (a form post's error page). */
export function siteTranslator(site: SiteSettings): Translator {
  return translator(site.language, site.timeZone);
}

/**
 * The language a subscribe keeps: the form's own (a join page or form sends the language it is
 * written in; checked by the domain), else the first of the browser's `Accept-Language` the site
 * has, else null (the site's).
 */
export function subscribeLanguage(formLanguage: string | null | undefined, acceptLanguage: string | null): string | null {
  if (formLanguage && formLanguage.trim() !== '') return formLanguage;
  return acceptLanguageMatch(acceptLanguage);
}

/** The best of an `Accept-Language` header among this install's languages (by q, then order). */
export function acceptLanguageMatch(
  header: string | null,
  languages: readonly string[] = availableLanguages().map((l) => l.code),
): string | null {
  if (!header) return null;
  const ranked = header
    .slice(0, 500)
    .split(',')
    .map((part, index) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
      return { code: (tag ?? '').trim().toLowerCase().split('-')[0]!, q: q === undefined ? 1 : Number(q), index };
    })
    .filter((r) => r.q > 0 && /^[a-z]{2}$/.test(r.code))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  return ranked.find((r) => languages.includes(r.code))?.code ?? null;
}

export { DEFAULT_LANGUAGE };

/** The catalogue key of each reaction's name (domain/community/reactions-set.ts). */
export const REACTION_LABEL_KEYS: Record<string, string> = {
  like: 'pages.reactions.like',
  love: 'pages.reactions.love',
  laugh: 'pages.reactions.laugh',
  insightful: 'pages.reactions.insightful',
  thanks: 'pages.reactions.thanks',
};

/** The member a signed link is for, or null when the link does not verify (for `readerLocale`). */
export function linkOwner(read: () => string): string | null {
  try {
    return read();
  } catch {
    return null;
  }
}
