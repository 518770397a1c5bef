import type { APIRoute } from 'astro';
import { countBody } from '../../../../domain/sending/api-schemas.ts';
import { countRecipients, parseSegmentInput, resolveSegment } from '../../../../domain/sending/segments.ts';
import { json, jsonErrorFrom, readJson } from '../../../../web/http.ts';

/** Who a send of this post to this segment would reach now: {"count": n}. */
export const POST: APIRoute = async ({ request, locals }) => {
  try {
    const body = await readJson(request, countBody);
    const segment = await resolveSegment(locals.runtime.db, parseSegmentInput(body.segment));
    return json({ count: await countRecipients(locals.runtime.db, segment, body.post_id) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
