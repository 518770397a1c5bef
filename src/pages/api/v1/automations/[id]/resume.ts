import { resumeAutomation } from '../../../../../domain/automations/automations.ts';
import { automationJson } from '../../../../../web/api/automation.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';

/** POST /api/v1/automations/:id/resume: continues; steps that came due meanwhile are spread over the provider's rate. */
export const POST = apiRoute(async ({ params }, { db, staff, sendRateLimit }) =>
  json({ automation: automationJson(await resumeAutomation(db, params.id!, staff, { perSecond: (sendRateLimit ?? 2) * 100 })) }),
);
