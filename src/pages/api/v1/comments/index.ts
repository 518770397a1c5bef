import type { APIRoute } from 'astro';
import { listComments, parseCommentFilter } from '../../../../domain/community/moderation.ts';
import { json, jsonErrorFrom } from '../../../../web/http.ts';

/** GET /api/v1/comments?post=&status=published|held|hidden&question=1&limit=&after= (newest first). */
export const GET: APIRoute = async ({ url, locals }) => {
  try {
    const filter = parseCommentFilter(url.searchParams);
    const limit = url.searchParams.get('limit');
    return json(await listComments(locals.runtime.db, filter, { limit: limit === null ? undefined : Number(limit), after: url.searchParams.get('after') }));
  } catch (err) {
    return jsonErrorFrom(err);
  }
};
