import { listDeliveries } from '../../../../../../domain/webhooks/endpoints.ts';
import { apiRoute, limitParam } from '../../../../../../web/api/route.ts';
import { webhookDeliveryJson } from '../../../../../../web/api/webhook.ts';
import { json } from '../../../../../../web/http.ts';

/** GET /api/v1/webhooks/:id/deliveries: the newest deliveries with their last response code. */
export const GET = apiRoute(async ({ params, url }, { db }) =>
  json({ deliveries: (await listDeliveries(db, params.id!, { limit: limitParam(url) })).map(webhookDeliveryJson) }),
);
