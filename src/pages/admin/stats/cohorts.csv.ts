import type { APIRoute } from 'astro';
import { cohortsCsv } from '../../../domain/stats/csv.ts';
import { statsCohorts } from '../../../domain/stats/read.ts';
import { parseCohortParams } from '../../../web/stats-params.ts';
import { csvDownload } from '../../../web/http.ts';

export const GET: APIRoute = ({ url, locals }) =>
  csvDownload('stats-cohorts', async () => cohortsCsv(await statsCohorts(locals.runtime.db, parseCohortParams(url.searchParams))));
