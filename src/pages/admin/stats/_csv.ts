import { DomainError } from '../../../lib/errors.ts';
import { statusFor, streamedDownload } from '../../../web/http.ts';

/** A stats table as a CSV download; a bad parameter or an unknown id is a plain-text 4xx. */
export async function csvDownload(name: string, load: () => Promise<AsyncIterable<string>>): Promise<Response> {
  try {
    const chunks = await load();
    return streamedDownload(chunks, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${name}-${new Date().toISOString().slice(0, 10)}.csv"`,
    });
  } catch (err) {
    if (err instanceof DomainError) return new Response(err.message, { status: statusFor(err) });
    throw err;
  }
}
