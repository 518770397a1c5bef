import { createWebhook, listWebhooks } from '../../../../domain/webhooks/endpoints.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { newWebhookBody, webhookJson } from '../../../../web/api/webhook.ts';
import { json, readJson } from '../../../../web/http.ts';

/** POST /api/v1/webhooks: a new endpoint; its secret is in this answer only. GET: the endpoints, without secrets. */
export const POST = apiRoute(async ({ request }, { db, staff, webhooksAllowPrivate }) => {
  const body = await readJson(request, newWebhookBody);
  const created = await createWebhook(
    db,
    { url: body.url, events: body.events, description: body.description, createdBy: staff.id },
    { allowPrivate: webhooksAllowPrivate ?? false },
  );
  return json({ webhook: { ...webhookJson(created), secret: created.secret } }, 201);
});

export const GET = apiRoute(async (_, { db }) => json({ webhooks: (await listWebhooks(db)).map(webhookJson) }));
