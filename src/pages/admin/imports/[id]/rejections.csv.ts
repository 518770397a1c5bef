import type { APIRoute } from 'astro';
import { rejectionsCsv } from '../../../../domain/imports/pipeline.ts';

/** The rejected rows of an import with their reasons, streamed. */
export const GET: APIRoute = ({ params, locals }) => {
  const lines = rejectionsCsv(locals.runtime.db, params.id!)[Symbol.asyncIterator]();
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await lines.next();
      if (done) controller.close();
      else controller.enqueue(encoder.encode(value));
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="import-${params.id}-rejected.csv"`, 'cache-control': 'no-store' },
  });
};
