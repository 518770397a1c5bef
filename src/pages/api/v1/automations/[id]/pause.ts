import { pauseAutomation } from '../../../../../domain/automations/automations.ts';
import { automationJson } from '../../../../../web/api/automation.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';

/** POST /api/v1/automations/:id/pause: every member is held where they are. */
export const POST = apiRoute(async ({ params }, { db, staff }) =>
  json({ automation: automationJson(await pauseAutomation(db, params.id!, staff)) }),
);
