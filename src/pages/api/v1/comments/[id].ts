import type { APIRoute } from 'astro';
import { z } from 'zod';
import { getCommentJson, moderateComment } from '../../../../domain/community/moderation.ts';
import { json, jsonErrorFrom, readJson } from '../../../../web/http.ts';

/** One comment; PATCH `{"status":"published"|"hidden"}` approves/restores or hides it; DELETE deletes it (restorable). */
const patchBody = z.strictObject({ status: z.enum(['published', 'hidden']), note: z.string().max(500).optional() });

export const GET: APIRoute = async ({ params, locals }) => {
  try {
    return json({ comment: await getCommentJson(locals.runtime.db, params.id!) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

export const PATCH: APIRoute = async ({ params, request, locals }) => {
  try {
    const body = await readJson(request, patchBody);
    await moderateComment(locals.runtime.db, locals.staff!.id, params.id!, body.status === 'published' ? 'restore' : 'hide', body.note);
    return json({ comment: await getCommentJson(locals.runtime.db, params.id!) });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};

export const DELETE: APIRoute = async ({ params, locals }) => {
  try {
    await moderateComment(locals.runtime.db, locals.staff!.id, params.id!, 'delete');
    return new Response(null, { status: 204 });
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
