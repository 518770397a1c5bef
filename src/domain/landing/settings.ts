import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { SOCIAL_PLATFORMS } from '../members/sources.ts';

/**
 * What staff edit for the reader-facing audience pages: the copy of /join and of each
 * /join/:platform page, the links of the link-in-bio page (/links), and the origins allowed to
 * frame the embeddable form (/embed/subscribe). Kept as one `settings` row.
 */
const copySchema = z.object({
  headline: z.string().trim().min(1).max(160),
  intro: z.string().trim().max(1000),
});
export type LandingCopy = z.infer<typeof copySchema>;

const linkSchema = z.object({
  label: z.string().trim().min(1).max(80),
  url: z
    .string()
    .trim()
    .max(2000)
    .refine((u) => /^https?:\/\//i.test(u) || u.startsWith('/'), 'must start with https://, http:// or /'),
});
export type BioLink = z.infer<typeof linkSchema>;

const originSchema = z
  .string()
  .trim()
  .transform((v, ctx) => {
    try {
      const u = new URL(v);
      if ((u.protocol === 'https:' || u.protocol === 'http:') && u.origin !== 'null') return u.origin;
    } catch {
      // fall through
    }
    ctx.addIssue({ code: 'custom', message: `"${v.slice(0, 80)}" is not an origin like https://example.com` });
    return z.NEVER;
  });

export const audienceSettingsSchema = z.object({
  landing: z.record(z.string(), copySchema).default({}),
  links: z.array(linkSchema).max(30).default([]),
  embedOrigins: z.array(originSchema).max(20).default([]),
});
export type AudienceSettings = z.infer<typeof audienceSettingsSchema>;

const PLATFORM_LABEL: Record<string, string> = {
  instagram: 'Instagram',
  tiktok: 'TikTok',
  x: 'X',
  threads: 'Threads',
  bluesky: 'Bluesky',
  mastodon: 'Mastodon',
  fediverse: 'the fediverse',
  linkedin: 'LinkedIn',
  facebook: 'Facebook',
  youtube: 'YouTube',
  reddit: 'Reddit',
};

export function platformLabel(platform: string): string {
  return PLATFORM_LABEL[platform] ?? platform;
}

/** The copy of a landing page: what staff wrote for it, else a sensible default. */
export function landingCopy(settings: AudienceSettings, siteTitle: string, platform: string | null): LandingCopy {
  const own = settings.landing[platform ?? 'default'];
  if (own) return own;
  if (platform) {
    return {
      headline: `Found us on ${platformLabel(platform)}? Get ${siteTitle} in your inbox.`,
      intro: `The feed decides who sees our posts. Email doesn't: subscribe and every letter reaches you, straight from us.`,
    };
  }
  return { headline: `Get ${siteTitle} in your inbox`, intro: 'Letters straight from us to you: no feed, no algorithm in between.' };
}

export async function getAudienceSettings(db: Kysely<Database>): Promise<AudienceSettings> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', 'audience').executeTakeFirst();
  const parsed = audienceSettingsSchema.safeParse(row?.value ?? {});
  return parsed.success ? parsed.data : audienceSettingsSchema.parse({});
}

export async function saveAudienceSettings(db: Kysely<Database>, input: unknown): Promise<AudienceSettings> {
  const parsed = audienceSettingsSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`${issue.path.join('.') || 'settings'}: ${issue.message}`, 'invalid_settings');
  }
  const platforms = new Set(['default', ...SOCIAL_PLATFORMS]);
  for (const key of Object.keys(parsed.data.landing)) {
    if (!platforms.has(key)) throw new ValidationError(`There is no landing page for "${key.slice(0, 40)}".`, 'invalid_settings');
  }
  const value = JSON.stringify(parsed.data);
  await db
    .insertInto('settings')
    .values({ key: 'audience', value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: new Date() }))
    .execute();
  return parsed.data;
}
