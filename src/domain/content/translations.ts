import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { checkLanguage } from '../members/language.ts';
import type { Gate } from './access.ts';

/**
 * Translations of a post. A post has a language (posts.language; null: the site's). A
 * translation is a post of its own (its own slug, visibility, status) whose `translation_of`
 * names the original: one level only (a translation of a translation is refused), and at most
 * one translation per language. On the web each is an ordinary post, gated by its own
 * visibility, and the post page links the family with `hreflang` alternates. A send of the
 * original gives each member the translation in their language when there is one (sending/
 * languages.ts), else the original with the fixed parts in their language.
 */

export interface TranslationLink {
  /** ISO 639-1 among the site's languages; null: the site's. */
  language: string | null;
  /** The original's id; null: not a translation. */
  translationOf: string | null;
}

/**
 * Checks a post's language and original before a save: a known language; the original exists,
 * is not itself a translation nor this post, is in another language, and has no other
 * translation in this one; a post with translations cannot become one.
 */
export async function checkTranslationLink(
  db: Kysely<Database>,
  postId: string | null,
  link: TranslationLink,
  siteLanguage: string,
): Promise<TranslationLink> {
  const language = checkLanguage(link.language);
  const translationOf = link.translationOf?.trim() || null;
  if (translationOf === null) {
    // An original keeps a language none of its translations has.
    if (postId !== null) {
      const clash = await db
        .selectFrom('posts')
        .select('id')
        .where('translation_of', '=', postId)
        .where('language', '=', language ?? siteLanguage)
        .executeTakeFirst();
      if (clash)
        throw new ValidationError(`Post ${clash.id} is this post's translation in "${language ?? siteLanguage}".`, 'same_language');
    }
    return { language, translationOf };
  }
  if (!/^\d{1,18}$/.test(translationOf)) throw new ValidationError('translation_of must be the id of a post.', 'invalid_translation_of');
  if (translationOf === postId) throw new ValidationError('A post cannot be a translation of itself.', 'invalid_translation_of');
  if (language === null) throw new ValidationError('A translation needs its language.', 'translation_language_required');
  const original = await db
    .selectFrom('posts')
    .select(['id', 'language', 'translation_of'])
    .where('id', '=', translationOf)
    .executeTakeFirst();
  if (!original) throw new ValidationError(`There is no post ${translationOf} to translate.`, 'unknown_original');
  if (original.translation_of !== null)
    throw new ValidationError('That post is itself a translation: link to its original.', 'original_is_translation');
  if ((original.language ?? siteLanguage) === language)
    throw new ValidationError(`The original is already in "${language}": a translation is in another language.`, 'same_language');
  if (postId !== null) {
    const own = await db.selectFrom('posts').select('id').where('translation_of', '=', postId).limit(1).executeTakeFirst();
    if (own) throw new ValidationError('This post has translations of its own, so it cannot be a translation.', 'has_translations');
  }
  const taken = await db
    .selectFrom('posts')
    .select('id')
    .where('translation_of', '=', translationOf)
    .where('language', '=', language)
    .$if(postId !== null, (q) => q.where('id', '<>', postId!))
    .executeTakeFirst();
  if (taken) throw new ValidationError(`That post already has a translation in "${language}" (post ${taken.id}).`, 'translation_taken');
  return { language, translationOf };
}

/** A post of a send, in one language: what a member of that language gets. */
export interface LanguageVersion {
  postId: string;
  gate: Gate;
}

/**
 * What a send of `postId` gives each language: the original's language gets the original;
 * every language with a translation not in draft (published, scheduled or email-only) gets it.
 * A language missing here gets the original (with its fixed parts in that language).
 */
export async function sendVersions(
  db: Kysely<Database>,
  postId: string,
): Promise<{ original: LanguageVersion & { language: string | null }; translations: Map<string, LanguageVersion> }> {
  const rows = await db
    .selectFrom('posts')
    .select(['id', 'language', 'visibility', 'tier_ids', 'translation_of'])
    .where((eb) => eb.or([eb('id', '=', postId), eb.and([eb('translation_of', '=', postId), eb('status', '<>', 'draft')])]))
    .execute();
  const own = rows.find((r) => r.id === postId);
  if (!own) throw new ValidationError(`There is no post ${postId}.`, 'post_not_found');
  const gateOf = (r: (typeof rows)[number]): Gate => ({ visibility: r.visibility, tierIds: r.tier_ids });
  const translations = new Map<string, LanguageVersion>();
  for (const r of rows) if (r.id !== postId && r.language) translations.set(r.language, { postId: r.id, gate: gateOf(r) });
  return { original: { postId, gate: gateOf(own), language: own.language }, translations };
}

export interface Alternate {
  language: string;
  slug: string;
}

/**
 * The post page's `hreflang` alternates: every version of the post's family a reader can open
 * on the web (published, not email-only), the post itself included; empty when it has none.
 * One query on posts_translation_language_idx and the primary key.
 */
export async function postAlternates(
  db: Kysely<Database>,
  post: { id: string; translation_of: string | null },
  siteLanguage: string,
): Promise<Alternate[]> {
  return alternatesAt(await postFamily(db, post), Date.now(), siteLanguage);
}

/** A version of a post's family that is or will be out on the web, with when (epoch ms; null: not dated). */
export interface FamilyMember {
  slug: string;
  language: string | null;
  publishedMs: number | null;
}

/**
 * The versions of a post's family that are or will be out (published or scheduled, not
 * email-only), scheduled ones with their time: which are out is decided at a given moment by
 * `alternatesAt`, so a web process may keep this list until a post is written (a scheduled
 * translation comes out with no write). One query, as postAlternates.
 */
export async function postFamily(db: Kysely<Database>, post: { id: string; translation_of: string | null }): Promise<FamilyMember[]> {
  const root = post.translation_of ?? post.id;
  return db
    .selectFrom('posts')
    .select(['slug', 'language', sql<number | null>`(extract(epoch from published_at) * 1000)::float8`.as('publishedMs')])
    .where((eb) => eb.or([eb('id', '=', root), eb('translation_of', '=', root)]))
    .where('status', 'in', ['published', 'scheduled'])
    .where('email_only', '=', false)
    .orderBy(sql`language nulls first`)
    .execute();
}

/** The alternates of a family at a moment (epoch ms): the versions out by then, or none when only one is. */
export function alternatesAt(family: FamilyMember[], nowMs: number, siteLanguage: string): Alternate[] {
  const out = family.filter((r) => r.publishedMs !== null && r.publishedMs <= nowMs);
  if (out.length < 2) return [];
  return out.map((r) => ({ language: r.language ?? siteLanguage, slug: r.slug }));
}

/** Originals a post may be linked to in the editor (newest first), itself left out. */
export async function translationCandidates(db: Kysely<Database>, exceptId: string | null, limit = 200) {
  return db
    .selectFrom('posts')
    .select(['id', 'title', 'language'])
    .where('translation_of', 'is', null)
    .$if(exceptId !== null, (q) => q.where('id', '<>', exceptId!))
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
