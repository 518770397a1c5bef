import { deleteWebhook } from '../../../../domain/webhooks/endpoints.ts';
import { apiRoute } from '../../../../web/api/route.ts';

/** DELETE /api/v1/webhooks/:id: the endpoint, its deliveries and their log. */
export const DELETE = apiRoute(async ({ params }, { db }) => {
  await deleteWebhook(db, params.id!);
  return new Response(null, { status: 204 });
});
