import { createAutomation, listAutomations } from '../../../../domain/automations/automations.ts';
import { automationJson, newAutomationBody } from '../../../../web/api/automation.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** POST /api/v1/automations: a new automation (draft unless `"status":"live"`). GET: every automation. */
export const POST = apiRoute(async ({ request }, { db, siteUrl, staff }) => {
  const body = await readJson(request, newAutomationBody);
  const created = await createAutomation(db, siteUrl, body, staff);
  return json({ automation: automationJson(created) }, 201);
});

export const GET = apiRoute(async (_, { db }) => json({ automations: (await listAutomations(db)).map(automationJson) }));
