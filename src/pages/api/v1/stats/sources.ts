import { statsSources } from '../../../../domain/stats/read.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json } from '../../../../web/http.ts';

export const GET = apiRoute(async (_, { db }) => json(await statsSources(db)));
