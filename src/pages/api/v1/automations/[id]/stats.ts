import { automationStats } from '../../../../../domain/automations/stats.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';

/** GET /api/v1/automations/:id/stats: per automation and per step. */
export const GET = apiRoute(async ({ params }, { db }) => json({ stats: await automationStats(db, params.id!) }));
