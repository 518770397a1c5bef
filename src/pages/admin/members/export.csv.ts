import type { APIRoute } from 'astro';
import { DomainError } from '../../../lib/errors.ts';
import { parseMemberFilter } from '../../../web/member-filter.ts';
import { membersCsv } from '../../../domain/members/manage.ts';
import { statusFor, streamedDownload } from '../../../web/http.ts';

/** The members of a filter as a CSV download, streamed page by page. */
export const GET: APIRoute = async ({ url, locals }) => {
  let filter;
  try {
    filter = parseMemberFilter(url.searchParams);
  } catch (err) {
    if (err instanceof DomainError) return new Response(err.message, { status: statusFor(err) });
    throw err;
  }
  return streamedDownload(membersCsv(locals.runtime.db, filter), {
    'content-type': 'text/csv; charset=utf-8',
    'content-disposition': `attachment; filename="members-${new Date().toISOString().slice(0, 10)}.csv"`,
  });
};
