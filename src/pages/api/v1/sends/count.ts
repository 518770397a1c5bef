import { countRecipients, parseSegmentInput, resolveSegment } from '../../../../domain/sending/segments.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { countBody } from '../../../../web/api/send.ts';
import { json, readJson } from '../../../../web/http.ts';

/** Who a send of this post to this segment would reach now: {"count": n}. */
export const POST = apiRoute(async ({ request }, { db }) => {
  const body = await readJson(request, countBody);
  const segment = await resolveSegment(db, parseSegmentInput(body.segment));
  return json({ count: await countRecipients(db, segment, body.post_id) });
});
