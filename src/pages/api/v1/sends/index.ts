import type { APIRoute } from 'astro';
import { sendBody } from '../../../../domain/sending/api-schemas.ts';
import { createSend, listSends } from '../../../../domain/sending/sends.ts';
import { json, jsonErrorFrom, readJson } from '../../../../web/http.ts';

export const GET: APIRoute = async ({ url, locals }) => {
  try {
    const p = url.searchParams;
    return json(await listSends(locals.runtime.db, { limit: Number(p.get('limit') ?? 50), after: p.get('after') ?? undefined, postId: p.get('post') ?? undefined }));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

export const POST: APIRoute = async ({ request, locals }) => {
  try {
    const body = await readJson(request, sendBody);
    const send = await createSend(locals.runtime.db, {
      postId: body.post_id,
      segment: body.segment,
      sendAt: body.send_at ? new Date(body.send_at) : undefined,
      undoSeconds: body.undo_seconds,
      draft: body.draft,
      staffId: locals.staff!.id,
    });
    return json({ send }, 201);
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
