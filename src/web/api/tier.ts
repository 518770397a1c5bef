import { z } from 'zod';
import type { Tier as TierRow } from '../../../db/types.ts';
import { Id } from './schema.ts';

/** The tiers API's contract (DESIGN.md "Admin API v1"): the new-tier body, the Tier shape, and its one serializer. */

/** POST /api/v1/tiers: a paid tier; amounts in the currency's minor unit. */
export const newTierBody = z
  .object({
    name: z.string().min(1).max(100),
    monthly_amount: z.number().int().nullable().optional(),
    yearly_amount: z.number().int().nullable().optional(),
    currency: z.string().length(3),
    trial_days: z.number().int().min(0).max(365).optional(),
    description: z.string().max(500).optional(),
  })
  .strict()
  .meta({ id: 'TierCreate' });

export const Tier = z
  .strictObject({
    id: Id,
    slug: z.string(),
    name: z.string(),
    paid: z.boolean(),
    monthly_amount: z.int().nullable().meta({ description: "In the currency's minor unit." }),
    yearly_amount: z.int().nullable(),
    currency: z.string().nullable(),
    trial_days: z.int(),
  })
  .meta({ id: 'Tier' });

export type TierJson = z.infer<typeof Tier>;

export const TierEnvelope = z.strictObject({ tier: Tier });
export const TierList = z.strictObject({ tiers: z.array(Tier) });

export function tierJson(
  t: Pick<TierRow, 'id' | 'slug' | 'name' | 'paid' | 'monthly_amount' | 'yearly_amount' | 'currency' | 'trial_days'>,
): TierJson {
  return {
    id: t.id,
    slug: t.slug,
    name: t.name,
    paid: t.paid,
    monthly_amount: t.monthly_amount,
    yearly_amount: t.yearly_amount,
    currency: t.currency,
    trial_days: t.trial_days,
  };
}
