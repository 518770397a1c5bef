import type { APIRoute } from 'astro';
import { overviewCsv } from '../../../domain/stats/csv.ts';
import { statsOverview } from '../../../domain/stats/read.ts';
import { parseOverviewParams } from '../../../web/stats-params.ts';
import { csvDownload } from '../../../web/http.ts';

export const GET: APIRoute = ({ url, locals }) =>
  csvDownload('stats-overview', async () => overviewCsv(await statsOverview(locals.runtime.db, parseOverviewParams(url.searchParams))));
