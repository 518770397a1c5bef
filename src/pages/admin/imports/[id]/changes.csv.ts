import type { APIRoute } from 'astro';
import { DomainError } from '../../../../lib/errors.ts';
import { changesCsv, getImport } from '../../../../domain/imports/pipeline.ts';
import { statusFor, streamedDownload } from '../../../../web/http.ts';

/** The existing members an import changes (or, previewed, will change), streamed. */
export const GET: APIRoute = async ({ params, locals }) => {
  try {
    await getImport(locals.runtime.db, params.id!);
  } catch (err) {
    if (err instanceof DomainError) return new Response(err.message, { status: statusFor(err) });
    throw err;
  }
  return streamedDownload(changesCsv(locals.runtime.db, params.id!), {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="import-${params.id}-changes.csv"`,
  });
};
