import type { APIRoute } from 'astro';
import { findConversationPost } from '../../../domain/community/comments.ts';
import { toggleReaction } from '../../../domain/community/reactions.ts';
import { DomainError, RateLimitedError } from '../../../lib/errors.ts';
import { actorOf, identify } from '../../../web/identity.ts';
import { statusFor } from '../../../web/http.ts';
import { field, readFields } from '../../../web/request-data.ts';

/** POST /posts/:slug/reactions: `kind`, optional `comment`; toggles the member's reaction, 303 back. */
export const POST: APIRoute = async ({ params, request, cookies, locals, redirect }) => {
  const { db, config } = locals.runtime;
  const post = await findConversationPost(db, params.slug ?? '');
  if (!post) return new Response('No such post.', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
  const fields = await readFields(request);
  const commentId = field(fields, 'comment') || undefined;
  try {
    const actor = actorOf(await identify(db, cookies, config.siteUrl));
    await toggleReaction(db, config.appSecret, actor, post, { kind: fields.get('kind'), commentId });
    return redirect(`/posts/${post.slug}#${commentId ? `comment-${encodeURIComponent(commentId)}` : 'conversation'}`, 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
    if (err instanceof RateLimitedError) headers['retry-after'] = String(err.retryAfter);
    return new Response(`${err.message}\n\nGo back to the post: /posts/${post.slug}\n`, { status: statusFor(err), headers });
  }
};

export const GET: APIRoute = async ({ params, redirect }) => redirect(`/posts/${encodeURIComponent(params.slug ?? '')}#conversation`, 303);
