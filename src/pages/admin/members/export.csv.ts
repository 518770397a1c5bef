import type { APIRoute } from 'astro';
import { DomainError } from '../../../domain/errors.ts';
import { parseMemberFilter } from '../../../domain/members/list.ts';
import { membersCsv } from '../../../domain/members/manage.ts';
import { statusFor } from '../../../lib/http.ts';

/** The members of a filter as a CSV download, streamed page by page. */
export const GET: APIRoute = async ({ url, locals }) => {
  let filter;
  try {
    filter = parseMemberFilter(url.searchParams);
  } catch (err) {
    if (err instanceof DomainError) return new Response(err.message, { status: statusFor(err) });
    throw err;
  }
  const lines = membersCsv(locals.runtime.db, filter);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await lines.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
    async cancel() {
      await lines.return(undefined);
    },
  });
  const stamp = new Date().toISOString().slice(0, 10);
  return new Response(body, {
    headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="members-${stamp}.csv"`, 'cache-control': 'no-store' },
  });
};
