import type { APIRoute } from 'astro';
import { overviewCsv } from '../../../domain/stats/csv.ts';
import { parseOverviewParams, statsOverview } from '../../../domain/stats/read.ts';
import { csvDownload } from './_csv.ts';

export const GET: APIRoute = ({ url, locals }) => csvDownload('stats-overview', async () => overviewCsv(await statsOverview(locals.runtime.db, parseOverviewParams(url.searchParams))));
