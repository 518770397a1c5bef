import type { APIRoute } from 'astro';
import { Readable } from 'node:stream';
import { siteArchive } from '../../domain/backup/export.ts';

/** The owner's download of the whole site archive (domain/backup/export.ts), streamed as it is written. */
export const GET: APIRoute = async ({ locals }) => {
  const { pool, config } = locals.runtime;
  if (!pool) return new Response('The site archive needs the server started by the Hearth CLI.', { status: 503 });
  const archive = siteArchive(pool, { uploadsDir: config.uploadsDir });
  return new Response(Readable.toWeb(archive) as ReadableStream<Uint8Array>, {
    headers: {
      'content-type': 'application/gzip',
      'content-disposition': `attachment; filename="hearth-site-${new Date().toISOString().slice(0, 10)}.tar.gz"`,
      'cache-control': 'no-store',
    },
  });
};
