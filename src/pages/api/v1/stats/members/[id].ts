import { memberEngagement } from '../../../../../domain/stats/read.ts';
import { apiRoute } from '../../../../../web/api/route.ts';
import { json } from '../../../../../web/http.ts';
import { parseId } from '../../../../../web/stats-params.ts';

export const GET = apiRoute(async ({ params }, { db }) =>
  json({ engagement: await memberEngagement(db, parseId(params.id, 'member id')) }),
);
