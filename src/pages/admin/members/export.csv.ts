import type { APIRoute } from 'astro';
import { parseMemberFilter } from '../../../web/member-filter.ts';
import { membersCsv } from '../../../domain/members/manage.ts';
import { csvDownload } from '../../../web/http.ts';

/** The members of a filter as a CSV download, streamed page by page. */
export const GET: APIRoute = ({ url, locals }) =>
  csvDownload('members', async () => membersCsv(locals.runtime.db, parseMemberFilter(url.searchParams)));
