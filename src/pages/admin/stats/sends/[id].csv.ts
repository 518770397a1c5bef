import type { APIRoute } from 'astro';
import { sendLinksCsv } from '../../../../domain/stats/csv.ts';
import { statsSend } from '../../../../domain/stats/read.ts';
import { parseId } from '../../../../web/stats-params.ts';
import { csvDownload } from '../../../../web/http.ts';

export const GET: APIRoute = ({ params, locals }) =>
  csvDownload(`send-${params.id}-links`, async () => sendLinksCsv(await statsSend(locals.runtime.db, parseId(params.id, 'send id'))));
