import { createOffer, getOffer, listOffers } from '../../../../domain/billing/offers.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { newOfferBody, offerJson } from '../../../../web/api/offer.ts';
import { json, readJson } from '../../../../web/http.ts';

/** POST /api/v1/offers: a coupon and promotion code made in Stripe, then the offer. GET: the offers (archived too with ?archived=1). */
export const POST = apiRoute(async ({ request }, { db, stripe, staff, siteUrl }) => {
  const body = await readJson(request, newOfferBody);
  const created = await createOffer(db, stripe, {
    tier: body.tier,
    name: body.name,
    kind: body.kind,
    percentOff: body.percent_off,
    amountOff: body.amount_off,
    duration: body.duration,
    durationMonths: body.duration_months,
    interval: body.interval,
    endsAt: body.ends_at ? new Date(body.ends_at) : undefined,
    maxRedemptions: body.max_redemptions,
    newMembersOnly: body.new_members_only,
    platforms: body.platforms,
    trialDays: body.trial_days,
    trialWithoutCard: body.trial_without_card,
    createdBy: staff.id,
  });
  return json({ offer: offerJson(await getOffer(db, created.id), siteUrl) }, 201);
});

export const GET = apiRoute(async ({ url }, { db, siteUrl }) =>
  json({ offers: (await listOffers(db, { includeArchived: url.searchParams.get('archived') === '1' })).map((o) => offerJson(o, siteUrl)) }),
);
