import { createSend, listSends } from '../../../../domain/sending/sends.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { sendBody, sendJson } from '../../../../web/api/send.ts';
import { json, readJson } from '../../../../web/http.ts';

/** GET /api/v1/sends?post=&limit=&after= (newest first). */
export const GET = apiRoute(async ({ url }, { db }) => {
  const p = url.searchParams;
  const page = await listSends(db, {
    limit: Number(p.get('limit') ?? 50),
    after: p.get('after') ?? undefined,
    postId: p.get('post') ?? undefined,
  });
  return json({ sends: page.sends.map(sendJson), next: page.next });
});

export const POST = apiRoute(async ({ request }, { db, staff, siteUrl }) => {
  const body = await readJson(request, sendBody);
  const send = await createSend(db, {
    postId: body.post_id,
    segment: body.segment,
    sendAt: body.send_at ? new Date(body.send_at) : undefined,
    undoSeconds: body.undo_seconds,
    draft: body.draft,
    staffId: staff.id,
    subjects: body.subjects,
    test: body.test,
    clipCheck: { siteUrl, confirmed: body.confirm_clipped === true },
  });
  return json({ send: sendJson(send) }, 201);
});
