import { z } from 'zod';
import type { MemberRecord } from '../../domain/members/list.ts';
import { Id, Next, Timestamp } from './schema.ts';

/** The members API's contract (DESIGN.md "Admin API v1"): request bodies, the Member shape, and its one serializer. */

/** A member's language: ISO 639-1 among GET /api/v1/site's `languages` (else 400), or null for the site's. */
const Language = z
  .string()
  .max(20)
  .nullable()
  .meta({ description: "ISO 639-1 code among the site's languages (GET /api/v1/site), or null for the site's language.", example: 'fr' });

const slugList = z.array(z.string().min(1).max(64)).max(50);

/** Custom field values to set: `{key: value}`, checked against each field's type (400 with the reason); null clears. */
const fieldValuesBody = z
  .record(z.string().max(40), z.union([z.string().max(1000), z.number(), z.boolean(), z.null()]))
  .meta({ description: 'Custom field values by field key (GET /api/v1/fields); null clears one.' });

export const MemberFields = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
  .meta({ id: 'MemberFields', description: 'Custom field values by field key: text, choice and date (YYYY-MM-DD) as strings.' });

/** POST /api/v1/members: strict, so a misspelt field is an error, not ignored. */
export const createMemberBody = z
  .object({
    email: z.string().min(1).max(320),
    name: z.string().max(200).nullable().optional(),
    newsletters: slugList.optional(),
    labels: z.array(z.string().max(100)).max(50).optional(),
    status: z.enum(['active', 'pending']).optional(),
    tier: z.string().min(1).max(64).optional(),
    notes: z.string().max(5000).optional(),
    fields: fieldValuesBody.optional(),
    language: Language.optional(),
  })
  .strict()
  .meta({ id: 'MemberCreate' });

/** PATCH /api/v1/members/:id: fields left out keep their value. */
export const patchMemberBody = z
  .object({
    email: z.string().min(1).max(320).optional(),
    name: z.string().max(200).nullable().optional(),
    newsletters: slugList.optional(),
    labels: z.array(z.string().max(100)).max(50).optional(),
    status: z.enum(['active', 'unsubscribed']).optional(),
    tier: z.string().min(1).max(64).optional(),
    /** With tier: the end of complimentary access (ISO 8601), or null for none. */
    comp_until: z.iso.datetime({ offset: true }).nullable().optional(),
    notes: z.string().max(5000).optional(),
    fields: fieldValuesBody.optional(),
    language: Language.optional(),
  })
  .strict()
  .meta({ id: 'MemberPatch' });

export const Member = z
  .strictObject({
    id: Id,
    email: z.string(),
    name: z.string().nullable(),
    language: z.string().nullable().meta({ description: "ISO 639-1 code of the member's pages and emails; null: the site's language." }),
    status: z.enum(['pending', 'active', 'unsubscribed', 'bounced', 'complained']),
    tier: z.string().meta({ description: "The tier's slug." }),
    newsletters: z.array(z.string()).meta({ description: 'Newsletter slugs.' }),
    labels: z.array(z.string()),
    source: z.strictObject({
      platform: z.string(),
      utm_source: z.string().nullable(),
      utm_medium: z.string().nullable(),
      utm_campaign: z.string().nullable(),
      referrer: z.string().nullable().meta({ description: "The referring page's host only." }),
      ref: z.string().nullable().meta({ description: 'The referral code they came with.' }),
    }),
    referral_code: z.string(),
    referrals: z.int().meta({ description: 'Counted referrals (confirmed friends no fraud guard holds).' }),
    created_at: Timestamp,
    confirmed_at: Timestamp.nullable(),
    fields: MemberFields,
  })
  .meta({ id: 'Member' });

export type MemberJson = z.infer<typeof Member>;

export const MemberEnvelope = z.strictObject({ member: Member });
export const MemberPage = z.strictObject({ members: z.array(Member), next: Next });
export const MemberCount = z.strictObject({ count: z.int() });

export function memberJson(m: MemberRecord): MemberJson {
  return {
    id: m.id,
    email: m.email,
    name: m.name,
    language: m.language,
    status: m.status,
    tier: m.tier,
    newsletters: m.newsletters,
    labels: m.labels,
    source: {
      platform: m.source.platform,
      utm_source: m.source.utmSource,
      utm_medium: m.source.utmMedium,
      utm_campaign: m.source.utmCampaign,
      referrer: m.source.referrer,
      ref: m.source.ref,
    },
    referral_code: m.referralCode,
    referrals: m.referrals,
    created_at: m.createdAt.toISOString(),
    confirmed_at: m.confirmedAt?.toISOString() ?? null,
    fields: m.fields,
  };
}
