import { statsOverview } from '../../../../domain/stats/read.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';
import { parseOverviewParams } from '../../../../web/stats-params.ts';

export const GET = apiRoute(async ({ url }, { db }) => json(await statsOverview(db, parseOverviewParams(url.searchParams))));
