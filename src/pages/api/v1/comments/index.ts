import { listComments } from '../../../../domain/community/review.ts';
import { commentJson } from '../../../../web/api/comment.ts';
import { apiRoute, limitParam } from '../../../../web/api/route.ts';
import { parseCommentFilter } from '../../../../web/comment-filter.ts';
import { json } from '../../../../web/http.ts';

/** GET /api/v1/comments?post=&status=published|held|hidden&question=1&limit=&after= (newest first). */
export const GET = apiRoute(async ({ url }, { db }) => {
  const page = await listComments(db, parseCommentFilter(url.searchParams), {
    limit: limitParam(url),
    after: url.searchParams.get('after'),
  });
  return json({ comments: page.comments.map(commentJson), next: page.next });
});
