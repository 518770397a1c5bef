import { createPaidTier } from '../../../domain/billing/billing.ts';
import { listTiers } from '../../../domain/site/catalog.ts';
import { apiRoute } from '../../../web/api/route.ts';
import { newTierBody, tierJson } from '../../../web/api/tier.ts';
import { json, readJson } from '../../../web/http.ts';

/** POST /api/v1/tiers: a paid tier, its prices created in Stripe (DESIGN.md). */
export const POST = apiRoute(async ({ request }, { db, stripe }) => {
  const body = await readJson(request, newTierBody);
  const tier = await createPaidTier(db, stripe, {
    name: body.name,
    monthlyAmount: body.monthly_amount ?? null,
    yearlyAmount: body.yearly_amount ?? null,
    currency: body.currency.toLowerCase(),
    trialDays: body.trial_days,
    description: body.description,
  });
  return json({ tier: tierJson(tier) }, 201);
});

export const GET = apiRoute(async (_, { db }) => json({ tiers: (await listTiers(db)).map(tierJson) }));
