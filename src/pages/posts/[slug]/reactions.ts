import type { APIRoute } from 'astro';
import { findConversationPost } from '../../../domain/community/comments.ts';
import { toggleReaction } from '../../../domain/community/reactions.ts';
import { DomainError, RateLimitedError } from '../../../lib/errors.ts';
import { conversationErrorText } from '../../../web/conversation-pages.ts';
import { actorOf, identify } from '../../../web/identity.ts';
import { statusFor } from '../../../web/http.ts';
import { readerLocale } from '../../../web/locale.ts';
import { field, readFields } from '../../../web/request-data.ts';

/**
 * POST /posts/:slug/reactions: `kind`, optional `comment` (a field, or in the address: a comment's
 * form names it there, `?comment=<id>`); toggles the member's reaction, 303 back.
 * A refusal is a short text in the reader's language with the way back.
 */
export const POST: APIRoute = async (context) => {
  const { params, request, cookies, locals, redirect } = context;
  const { db, config } = locals.runtime;
  const text = (body: string, status: number, extra: Record<string, string> = {}) =>
    new Response(body, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...extra } });
  const post = await findConversationPost(db, params.slug ?? '');
  if (!post) return text(`${(await readerLocale(context)).t('conversation.reactionFailed.noPost')}\n`, 404);
  const fields = await readFields(request);
  const commentId = field(fields, 'comment') || new URL(request.url).searchParams.get('comment') || undefined;
  try {
    const actor = actorOf(await identify(db, cookies, config.siteUrl));
    await toggleReaction(db, config.appSecret, actor, post, { kind: fields.get('kind'), commentId });
    return redirect(`/posts/${post.slug}#${commentId ? `comment-${encodeURIComponent(commentId)}` : 'conversation'}`, 303);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    const tr = await readerLocale(context);
    const back = tr.t('conversation.reactionFailed.back', { url: `/posts/${post.slug}` });
    const extra: Record<string, string> = err instanceof RateLimitedError ? { 'retry-after': String(err.retryAfter) } : {};
    return text(`${conversationErrorText(err, tr, 'react')}\n\n${back}\n`, statusFor(err), extra);
  }
};

export const GET: APIRoute = async ({ params, redirect }) => redirect(`/posts/${encodeURIComponent(params.slug ?? '')}#conversation`, 303);
