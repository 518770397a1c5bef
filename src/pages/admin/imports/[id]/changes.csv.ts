import type { APIRoute } from 'astro';
import { changesCsv } from '../../../../domain/imports/pipeline.ts';
import { csvDownload } from '../../../../web/http.ts';

/** The existing members an import changes (or, previewed, will change), streamed. */
export const GET: APIRoute = ({ params, locals }) =>
  csvDownload(`import-${params.id}-changes`, () => changesCsv(locals.runtime.db, params.id!), { dated: false });
