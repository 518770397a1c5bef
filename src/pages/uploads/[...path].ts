import { Readable } from 'node:stream';
import type { APIRoute } from 'astro';
import { openUpload } from '../../lib/uploads.ts';

/** Post images, cached for a year: their names are random and never reused. */
export const GET: APIRoute = async ({ params, locals }) => {
  const file = await openUpload(locals.runtime.config.uploadsDir, params.path ?? '');
  if (!file) return new Response('Not found', { status: 404 });
  return new Response(Readable.toWeb(file.stream) as ReadableStream, {
    headers: { 'content-type': file.mime, 'content-length': String(file.size), 'cache-control': 'public, max-age=31536000, immutable' },
  });
};
