import { archiveOffer, getOffer, updateOffer } from '../../../../domain/billing/offers.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { offerJson, patchOfferBody } from '../../../../web/api/offer.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET/PATCH/DELETE /api/v1/offers/:id; DELETE archives (the promotion code made inactive in Stripe). */
export const GET = apiRoute(async ({ params }, { db, siteUrl }) => json({ offer: offerJson(await getOffer(db, params.id!), siteUrl) }));

export const PATCH = apiRoute(async ({ request, params }, { db, stripe, siteUrl }) => {
  const body = await readJson(request, patchOfferBody);
  return json({ offer: offerJson(await updateOffer(db, stripe, params.id!, body), siteUrl) });
});

export const DELETE = apiRoute(async ({ params }, { db, stripe, siteUrl }) =>
  json({ offer: offerJson(await archiveOffer(db, stripe, params.id!), siteUrl) }),
);
