import type { APIRoute } from 'astro';
import { postDaysCsv } from '../../../../domain/stats/csv.ts';
import { statsPost } from '../../../../domain/stats/read.ts';
import { parseId } from '../../../../web/stats-params.ts';
import { csvDownload } from '../../../../web/http.ts';

export const GET: APIRoute = ({ params, locals }) =>
  csvDownload(`post-${params.id}-reads`, async () => postDaysCsv(await statsPost(locals.runtime.db, parseId(params.id, 'post id'))));
