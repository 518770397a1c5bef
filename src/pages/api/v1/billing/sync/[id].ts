import { getStripeSync } from '../../../../../domain/billing/adopt.ts';
import { NotFoundError } from '../../../../../lib/errors.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { stripeSyncJson } from '../../../../../web/api/stripe-sync.ts';
import { json } from '../../../../../web/http.ts';

/** GET /api/v1/billing/sync/:id: a Stripe sync run and, once done, its report. */
export const GET = apiRoute(async ({ params }, { db }) => {
  const sync = await getStripeSync(db, params.id!);
  if (!sync) throw new NotFoundError('No such Stripe sync.', 'sync_not_found');
  return json({ sync: stripeSyncJson(sync) });
});
