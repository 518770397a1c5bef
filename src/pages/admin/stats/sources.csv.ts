import type { APIRoute } from 'astro';
import { sourcesCsv } from '../../../domain/stats/csv.ts';
import { statsSources } from '../../../domain/stats/read.ts';
import { csvDownload } from '../../../web/http.ts';

export const GET: APIRoute = ({ locals }) => csvDownload('stats-sources', async () => sourcesCsv(await statsSources(locals.runtime.db)));
