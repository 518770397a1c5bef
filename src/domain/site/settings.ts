import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { canonicalTimeZone, isTimeZone } from '../../lib/time-zone.ts';
import { availableLanguages, isLanguage } from '../../lib/i18n.ts';
import { emailProblem } from '../members/email.ts';
import { BUTTON_STYLES, DEFAULT_DESIGN, FONT_NAMES, type FontName } from '../../../emails/design.ts';

const UPLOADED_IMAGE = /^\/uploads\/\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.(png|jpg|gif|webp)$/;
const colour = (fallback: string) =>
  z
    .string()
    .trim()
    .regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour written #rrggbb, such as #1d4ed8')
    .transform((v) => v.toLowerCase())
    .default(fallback);
const font = (fallback: FontName) =>
  z.enum(FONT_NAMES as [FontName, ...FontName[]], { error: `must be one of ${FONT_NAMES.join(', ')}` }).default(fallback);

/** The brand's design (emails/design.ts): emails and the reader site use it. */
export const designSchema = z.object({
  linkColor: colour(DEFAULT_DESIGN.linkColor),
  backgroundColor: colour(DEFAULT_DESIGN.backgroundColor),
  headingFont: font(DEFAULT_DESIGN.headingFont),
  bodyFont: font(DEFAULT_DESIGN.bodyFont),
  buttonStyle: z.enum(BUTTON_STYLES, { error: `must be one of ${BUTTON_STYLES.join(', ')}` }).default(DEFAULT_DESIGN.buttonStyle),
  logoWidth: z
    .number()
    .int()
    .min(24, 'must be at least 24 pixels')
    .max(536, 'must be at most 536 pixels')
    .default(DEFAULT_DESIGN.logoWidth),
  showTitle: z.boolean().default(DEFAULT_DESIGN.showTitle),
  footerText: z.string().trim().max(500).default(DEFAULT_DESIGN.footerText),
  showViewInBrowser: z.boolean().default(DEFAULT_DESIGN.showViewInBrowser),
  showFeatureImage: z.boolean().default(DEFAULT_DESIGN.showFeatureImage),
  showAuthor: z.boolean().default(DEFAULT_DESIGN.showAuthor),
});

/** The brand as readers see it. Stored as one row per key in `settings`. */
export const siteSettingsSchema = z.object({
  title: z.string().trim().min(1).max(120).default('Hearth'),
  description: z.string().max(500).default('A newsletter and membership community.'),
  accentColor: colour('#c2410c'),
  /** An image uploaded to this site (/uploads/…), shown in the header and link previews. */
  logo: z
    .string()
    .regex(/^\/uploads\/\d{4}-\d{2}\/[A-Za-z0-9_-]{16}\.(png|jpg|gif|webp)$/, 'must be an image uploaded to this site')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** The picture of a link to the site when a page has none of its own (og:image); the logo, else a plain card, when absent. */
  shareImage: z
    .string()
    .regex(UPLOADED_IMAGE, 'must be an image uploaded to this site')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  design: designSchema.prefault({}),
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

export type SiteSettingsChange = Partial<Omit<SiteSettings, 'fediverse' | 'design'>> & {
  fediverse?: Partial<SiteSettings['fediverse']>;
  design?: Partial<SiteSettings['design']>;
};

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
    const parsed = siteSettingsSchema.safeParse({
      ...current,
      ...settings,
      fediverse: { ...current.fediverse, ...settings.fediverse },
      design: { ...current.design, ...settings.design },
    });
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
        shareImage: 'The share image',
        linkColor: 'The link colour',
        backgroundColor: 'The background colour',
        headingFont: 'The heading font',
        bodyFont: 'The body font',
        buttonStyle: 'The button style',
        logoWidth: 'The logo width',
        footerText: 'The footer text',
      };
      const field = String(issue.path[0] === 'design' ? issue.path[1] : issue.path[0]);
      throw new ValidationError(`${names[field] ?? 'A setting'} is not valid: ${issue.message}.`, 'invalid_settings');
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
