import { requestStripeSync } from '../../../../../domain/billing/adopt.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { stripeSyncJson } from '../../../../../web/api/stripe-sync.ts';
import { json } from '../../../../../web/http.ts';

/**
 * POST /api/v1/billing/sync: adopt the Stripe account's existing subscriptions. Queued for the
 * worker (202; a run already going is answered instead of a second); poll GET …/sync/:id.
 */
export const POST = apiRoute(async (_, { db, stripe, staff }) =>
  json({ sync: stripeSyncJson(await requestStripeSync(db, stripe, { via: 'api', staffUserId: staff.id })) }, 202),
);
