import { LISTED_STATUSES, type CommentFilter, type ListedStatus } from '../domain/community/review.ts';
import { ValidationError } from '../lib/errors.ts';
import { isId } from '../lib/ids.ts';

/** `?post=&status=&question=` of GET /api/v1/comments: a post id or slug, a listed status, 1 or 0. */
export function parseCommentFilter(params: URLSearchParams): CommentFilter {
  const post = params.get('post') ?? '';
  const status = params.get('status') ?? '';
  const question = params.get('question') ?? '';
  if (status && !(LISTED_STATUSES as readonly string[]).includes(status))
    throw new ValidationError('status must be published, held or hidden.', 'invalid_status');
  if (question && question !== '1' && question !== '0') throw new ValidationError('question must be 1 or 0.', 'invalid_question');
  if (post.length > 200) throw new ValidationError('post must be a post id or slug.', 'invalid_post');
  return {
    ...(post ? (isId(post) ? { postId: post } : { postSlug: post }) : {}),
    ...(status ? { status: status as ListedStatus } : {}),
    ...(question ? { question: question === '1' } : {}),
  };
}
