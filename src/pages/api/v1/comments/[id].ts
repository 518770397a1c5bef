import { moderateComment } from '../../../../domain/community/moderation.ts';
import { getComment } from '../../../../domain/community/review.ts';
import { commentJson, patchCommentBody } from '../../../../web/api/comment.ts';
import { apiRoute } from '../../../../web/api/route.ts';
import { json, readJson } from '../../../../web/http.ts';

/** One comment; PATCH `{"status":"published"|"hidden"}` approves/restores or hides it; DELETE deletes it (restorable). */
export const GET = apiRoute(async ({ params }, { db }) => json({ comment: commentJson(await getComment(db, params.id!)) }));

export const PATCH = apiRoute(async ({ params, request }, { db, staff }) => {
  const body = await readJson(request, patchCommentBody);
  await moderateComment(db, staff.id, params.id!, body.status === 'published' ? 'restore' : 'hide', body.note);
  return json({ comment: commentJson(await getComment(db, params.id!)) });
});

export const DELETE = apiRoute(async ({ params }, { db, staff }) => {
  await moderateComment(db, staff.id, params.id!, 'delete');
  return new Response(null, { status: 204 });
});
