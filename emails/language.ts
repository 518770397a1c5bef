import { DEFAULT_LANGUAGE, translator, type Translator } from '../src/lib/i18n.ts';

/**
 * The language an email is written in (catalogues in locales/<code>/emails.json): the member's,
 * else the site's — the caller decides (domain/site/language.ts). Left out: English.
 */
export interface EmailLanguage {
  lang?: string | null | undefined;
}

export function emailTranslator(lang: string | null | undefined): Translator {
  return translator(lang ?? DEFAULT_LANGUAGE);
}

/** The frame's `lang`/`dir` attributes (html.ts layout). */
export const frameLanguage = (tr: Translator) => ({ code: tr.lang, dir: tr.dir });
