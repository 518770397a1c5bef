import { z } from 'zod';
import { offerState } from '../../domain/billing/offers.ts';
import type { Offer as OfferRow } from '../../../db/types.ts';
import { Id, Timestamp } from './schema.ts';

/** The offers API's contract (README "Offers"): the bodies, the Offer shape and its one serializer. */

export const newOfferBody = z
  .strictObject({
    tier: z.string().min(1).max(60),
    name: z.string().min(1).max(100),
    percent_off: z.number().gt(0).max(100).optional(),
    amount_off: z.number().int().min(1).optional().meta({ description: "In the tier's currency's minor unit." }),
    duration: z.enum(['once', 'repeating', 'forever']),
    duration_months: z.number().int().min(1).max(36).optional(),
    interval: z.enum(['month', 'year']).optional().meta({ description: 'Only this interval; both when left out.' }),
    ends_at: z.iso.datetime({ offset: true }).optional(),
    max_redemptions: z.number().int().min(1).optional(),
    new_members_only: z.boolean().optional(),
    platforms: z.array(z.string().max(40)).max(20).optional().meta({ description: 'Only members who came from these platforms.' }),
    trial_days: z.number().int().min(0).max(730).optional(),
    trial_without_card: z.boolean().optional(),
    kind: z.enum(['link', 'retention']).optional().meta({ description: 'retention: shown when a member cancels.' }),
  })
  .meta({ id: 'OfferCreate' });

export const patchOfferBody = z
  .strictObject({ name: z.string().min(1).max(100).optional(), active: z.boolean().optional() })
  .meta({ id: 'OfferUpdate' });

export const Offer = z
  .strictObject({
    id: Id,
    code: z.string(),
    url: z.string(),
    kind: z.enum(['link', 'retention']),
    name: z.string(),
    tier: z.string(),
    percent_off: z.number().nullable(),
    amount_off: z.int().nullable(),
    currency: z.string().nullable(),
    duration: z.enum(['once', 'repeating', 'forever']),
    duration_months: z.int().nullable(),
    interval: z.enum(['month', 'year']).nullable(),
    ends_at: Timestamp.nullable(),
    max_redemptions: z.int().nullable(),
    redemptions: z.int(),
    new_members_only: z.boolean(),
    platforms: z.array(z.string()),
    trial_days: z.int(),
    trial_without_card: z.boolean(),
    state: z.enum(['active', 'expired', 'exhausted', 'archived']),
    created_at: Timestamp,
  })
  .meta({ id: 'Offer' });

export const OfferEnvelope = z.strictObject({ offer: Offer });
export const OfferList = z.strictObject({ offers: z.array(Offer) });

export function offerJson(o: OfferRow & { tier_slug: string }, siteUrl: string): z.infer<typeof Offer> {
  return {
    id: o.id,
    code: o.code,
    url: `${siteUrl}/offer/${o.code}`,
    kind: o.kind,
    name: o.name,
    tier: o.tier_slug,
    percent_off: o.percent_off === null ? null : Number(o.percent_off),
    amount_off: o.amount_off,
    currency: o.currency,
    duration: o.duration,
    duration_months: o.duration_months,
    interval: o.interval,
    ends_at: o.ends_at?.toISOString() ?? null,
    max_redemptions: o.max_redemptions,
    redemptions: o.redemptions,
    new_members_only: o.new_members_only,
    platforms: o.platforms,
    trial_days: o.trial_days,
    trial_without_card: o.trial_without_card,
    state: offerState(o),
    created_at: o.created_at.toISOString(),
  };
}
