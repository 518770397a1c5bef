import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { availableLanguages, isLanguage } from '../../lib/i18n.ts';
import { getSiteSettings } from '../site/settings.ts';
import { ValidationError } from '../../lib/errors.ts';

/**
 * A member's language (members.language): an ISO 639-1 code among the site's catalogues
 * (locales/), or null for the site's language. The language of a member's emails is theirs,
 * else the site's.
 */
export function checkLanguage(code: string | null | undefined): string | null {
  if (code === null || code === undefined || code.trim() === '') return null;
  const c = code.trim().toLowerCase();
  if (!isLanguage(c)) {
    const known = availableLanguages()
      .map((l) => l.code)
      .join(', ');
    throw new ValidationError(
      `The language "${code.slice(0, 20)}" is not one of this site's languages (${known}).`,
      'invalid_language',
    ).with({
      code: code.slice(0, 20),
      known,
    });
  }
  return c;
}

/** The language to write to a member in. */
export function memberLanguage(member: { language: string | null }, site: { language: string }): string {
  return member.language ?? site.language;
}

/** The language of one member's emails: theirs, else the site's (for the occasional email). */
export async function emailLanguageOf(db: Kysely<Database>, memberId: string | null | undefined): Promise<string> {
  const [site, member] = await Promise.all([
    getSiteSettings(db),
    memberId ? db.selectFrom('members').select('language').where('id', '=', memberId).executeTakeFirst() : undefined,
  ]);
  return member?.language && isLanguage(member.language) ? member.language : site.language;
}

/** A member sets their own language (the account page); '' or null: the site's. */
export async function setMemberLanguage(db: Kysely<Database>, memberId: string, code: string | null): Promise<void> {
  await db
    .updateTable('members')
    .set({ language: checkLanguage(code), updated_at: new Date() })
    .where('id', '=', memberId)
    .execute();
}

/** A member's own language, or null (the site's). */
export async function getMemberLanguage(db: Kysely<Database>, memberId: string): Promise<string | null> {
  return (await db.selectFrom('members').select('language').where('id', '=', memberId).executeTakeFirst())?.language ?? null;
}
