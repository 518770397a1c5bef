import type { APIRoute } from 'astro';
import { z } from 'zod';
import { createPaidTier } from '../../../domain/membership/billing.ts';
import { listTiers } from '../../../domain/site/catalog.ts';
import { json, jsonErrorFrom, readJson } from '../../../web/http.ts';

const newTierBody = z
  .object({
    name: z.string().min(1).max(100),
    monthly_amount: z.number().int().nullable().optional(),
    yearly_amount: z.number().int().nullable().optional(),
    currency: z.string().length(3),
    trial_days: z.number().int().min(0).max(365).optional(),
    description: z.string().max(500).optional(),
  })
  .strict();

/** POST /api/v1/tiers: a paid tier, its prices created in Stripe (DESIGN.md). */
export const POST: APIRoute = async ({ request, locals }) => {
  try {
    const body = await readJson(request, newTierBody);
    const tier = await createPaidTier(locals.runtime.db, locals.runtime.stripe, {
      name: body.name,
      monthlyAmount: body.monthly_amount ?? null,
      yearlyAmount: body.yearly_amount ?? null,
      currency: body.currency.toLowerCase(),
      trialDays: body.trial_days,
      description: body.description,
    });
    return json({ tier: { id: tier.id, slug: tier.slug, name: tier.name, paid: tier.paid, monthly_amount: tier.monthly_amount, yearly_amount: tier.yearly_amount, currency: tier.currency, trial_days: tier.trial_days } }, 201);
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

export const GET: APIRoute = async ({ locals }) => {
  const tiers = await listTiers(locals.runtime.db);
  return json({
    tiers: tiers.map((t) => ({
      id: t.id,
      slug: t.slug,
      name: t.name,
      paid: t.paid,
      monthly_amount: t.monthly_amount,
      yearly_amount: t.yearly_amount,
      currency: t.currency,
      trial_days: t.trial_days,
    })),
  });
};
