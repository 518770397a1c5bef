import type { APIRoute } from 'astro';
import { listTiers } from '../../../domain/site/catalog.ts';
import { json } from '../../../lib/http.ts';

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
