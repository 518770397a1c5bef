import { deleteAutomation, getAutomation, updateAutomation } from '../../../../domain/automations/automations.ts';
import { automationJson, automationPatchBody } from '../../../../web/api/automation.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET, PATCH, DELETE /api/v1/automations/:id. A PATCH's steps replace the list; a step keeps its place by its `id`. */
export const GET = apiRoute(async ({ params }, { db }) => json({ automation: automationJson(await getAutomation(db, params.id!)) }));

export const PATCH = apiRoute(async ({ request, params }, { db, siteUrl, staff }) => {
  const body = await readJson(request, automationPatchBody);
  return json({ automation: automationJson(await updateAutomation(db, siteUrl, params.id!, body, staff)) });
});

export const DELETE = apiRoute(async ({ params }, { db, staff }) => {
  await deleteAutomation(db, params.id!, staff);
  return new Response(null, { status: 204 });
});
