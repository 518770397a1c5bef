import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { canonicalTimeZone, isTimeZone } from '../../lib/time-zone.ts';
import { availableLanguages, isLanguage } from '../../lib/i18n.ts';
import { emailProblem } from '../members/email.ts';

/** The brand as readers see it. Stored as one row per key in `settings`. */
export const siteSettingsSchema = z.object({
  title: z.string().trim().min(1).max(120).default('Hearth'),
  description: z.string().max(500).default('A newsletter and membership community.'),
  accentColor: z
    .string()
    .regex(/^#[0-9a-fA-F]{6}$/)
    .default('#c2410c'),
  /** An image uploaded to this site (/uploads/…), shown in the header and link previews. */
  logo: z
    .string()
    .regex(/^\/uploads\/\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.(png|jpg|gif|webp)$/, 'must be an image uploaded to this site')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /**
   * Per-member tracking: opens, clicks and reads are tied to the member. Off: only anonymous
   * aggregate counts (per send, per link, per post) are kept.
   */
  trackPerMember: z.boolean().default(true),
  /**
   * The site's time zone (an IANA name): scheduling forms take and show times in it, stats days
   * and cohort weeks start in it. Stored as Intl spells it.
   */
  timeZone: z
    .string()
    .trim()
    .refine(isTimeZone, 'must be a time zone name such as Europe/Paris or America/New_York')
    .transform(canonicalTimeZone)
    .default('UTC'),
  /**
   * The site's language (ISO 639-1, a folder of locales/): reader pages, and emails to members
   * who chose none. Each member may have their own (members.language).
   */
  language: z
    .string()
    .trim()
    .toLowerCase()
    .refine(isLanguage, {
      error: () =>
        `must be one of ${availableLanguages()
          .map((l) => l.code)
          .join(', ')}`,
    })
    .default('en'),
  /** Where a member's reply goes when their newsletter names no reply-to address; empty: none. */
  reply_to: z
    .string()
    .trim()
    .max(254)
    .refine((v) => v === '' || emailProblem(v) === null, 'must be an email address such as hello@example.com')
    .optional()
    .transform((v) => (v ? v.toLowerCase() : undefined)),
  /** The sender's postal address, printed in email footers (anti-spam laws ask for one). */
  postalAddress: z.string().trim().max(500).default(''),
  /**
   * The site on the open social web (domain/fediverse): off by default. The handle is the
   * account's user part (`@news@brand.example`); replies from the fediverse wait for review
   * unless holdReplies is off.
   */
  fediverse: z
    .object({
      enabled: z.boolean().default(false),
      handle: z
        .string()
        .trim()
        .toLowerCase()
        .regex(/^[a-z0-9_]{1,30}$/, 'must be 1 to 30 letters, digits or underscores')
        .default('news'),
      holdReplies: z.boolean().default(true),
    })
    .prefault({}),
});
export type SiteSettings = z.infer<typeof siteSettingsSchema>;

export async function getSiteSettings(db: Kysely<Database>): Promise<SiteSettings> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', 'site').executeTakeFirst();
  const parsed = siteSettingsSchema.safeParse(row?.value ?? {});
  return parsed.success ? parsed.data : siteSettingsSchema.parse({});
}

export type SiteSettingsChange = Partial<Omit<SiteSettings, 'fediverse'>> & { fediverse?: Partial<SiteSettings['fediverse']> };

export async function saveSiteSettings(db: Kysely<Database>, settings: SiteSettingsChange): Promise<SiteSettings> {
  // Read, merge and write under the row's lock: two saves at once (the admin page and a PATCH)
  // each keep the other's fields instead of writing back what they read before it.
  const save = async (trx: Kysely<Database>) => {
    await trx
      .insertInto('settings')
      .values({ key: 'site', value: '{}' })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const row = await trx.selectFrom('settings').select('value').where('key', '=', 'site').forUpdate().executeTakeFirstOrThrow();
    const stored = siteSettingsSchema.safeParse(row.value ?? {});
    const current = stored.success ? stored.data : siteSettingsSchema.parse({});
    const parsed = siteSettingsSchema.safeParse({ ...current, ...settings, fediverse: { ...current.fediverse, ...settings.fediverse } });
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const names: Record<string, string> = {
        title: 'The name',
        description: 'The description',
        accentColor: 'The accent colour',
        logo: 'The logo',
        timeZone: 'The time zone',
        language: 'The language',
        reply_to: 'The reply-to address',
        postalAddress: 'The postal address',
        fediverse: 'The fediverse setting',
      };
      throw new ValidationError(`${names[String(issue.path[0])] ?? 'A setting'} is not valid: ${issue.message}.`, 'invalid_settings');
    }
    const merged = parsed.data;
    await trx
      .updateTable('settings')
      .set({ value: JSON.stringify(merged), updated_at: new Date() })
      .where('key', '=', 'site')
      .execute();
    return merged;
  };
  return db.isTransaction ? save(db) : db.transaction().execute(save);
}
