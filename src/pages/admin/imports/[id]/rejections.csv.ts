import type { APIRoute } from 'astro';
import { rejectionsCsv } from '../../../../domain/imports/pipeline.ts';
import { csvDownload } from '../../../../web/http.ts';

/** The rejected rows of an import with their reasons, streamed. */
export const GET: APIRoute = ({ params, locals }) =>
  csvDownload(`import-${params.id}-rejected`, () => rejectionsCsv(locals.runtime.db, params.id!), { dated: false });
