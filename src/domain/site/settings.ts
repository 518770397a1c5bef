import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
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
   * Where members' replies go when their email's newsletter names no reply-to of its own (and for
   * emails about no newsletter: sign-in, billing, conversation). Unset: the From address.
   * Named as the API names it (`reply_to`).
   */
  reply_to: z
    .string()
    .trim()
    .max(254)
    .refine((v) => v === '' || emailProblem(v) === null, 'must be an email address like replies@example.com')
    .transform((v) => (v === '' ? undefined : v))
    .optional(),
});
export type SiteSettings = z.infer<typeof siteSettingsSchema>;

export async function getSiteSettings(db: Kysely<Database>): Promise<SiteSettings> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', 'site').executeTakeFirst();
  const parsed = siteSettingsSchema.safeParse(row?.value ?? {});
  return parsed.success ? parsed.data : siteSettingsSchema.parse({});
}

export async function saveSiteSettings(db: Kysely<Database>, settings: Partial<SiteSettings>): Promise<SiteSettings> {
  const parsed = siteSettingsSchema.safeParse({ ...(await getSiteSettings(db)), ...settings });
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const names: Record<string, string> = {
      title: 'The name',
      description: 'The description',
      accentColor: 'The accent colour',
      logo: 'The logo',
      reply_to: 'The reply-to address',
    };
    throw new ValidationError(`${names[String(issue.path[0])] ?? 'A setting'} is not valid: ${issue.message}.`, 'invalid_settings');
  }
  const merged = parsed.data;
  await db
    .insertInto('settings')
    .values({ key: 'site', value: JSON.stringify(merged) })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(merged), updated_at: new Date() }))
    .execute();
  return merged;
}
