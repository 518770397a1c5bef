import { replayDelivery } from '../../../../../../../domain/webhooks/endpoints.ts';
import { apiRoute } from '../../../../../../../web/api/route.ts';
import { webhookDeliveryJson } from '../../../../../../../web/api/webhook.ts';
import { json } from '../../../../../../../web/http.ts';

/** POST /api/v1/webhooks/:id/deliveries/:delivery/replay: queue the delivery again (same webhook-id). */
export const POST = apiRoute(async ({ params }, { db }) =>
  json({ delivery: webhookDeliveryJson(await replayDelivery(db, params.id!, params.delivery!)) }, 202),
);
