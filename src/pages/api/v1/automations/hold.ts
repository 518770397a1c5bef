import { automationsHeld, setAutomationsHeld } from '../../../../domain/automations/automations.ts';
import { holdBody } from '../../../../web/api/automation.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET/POST /api/v1/automations/hold: the "hold all automations" switch, `{"held":true|false}`. */
export const GET = apiRoute(async (_, { db }) => json({ held: await automationsHeld(db) }));

export const POST = apiRoute(async ({ request }, { db, staff }) => {
  const body = await readJson(request, holdBody);
  await setAutomationsHeld(db, body.held, staff);
  return json({ held: body.held });
});
