import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError, UnauthorizedError, ValidationError } from '../../lib/errors.ts';
import { conversationAccess, type ConversationPost } from './comments.ts';
import { recordConversationEvent } from './events.ts';
import { limitReaction } from './limits.ts';
import { isReactionKind } from './reactions-set.ts';
import { ConversationRefusal, noCommentMessage, type Actor } from './rules.ts';
import { isId } from '../../lib/ids.ts';

export { REACTIONS, isReactionKind, type ReactionKind } from './reactions-set.ts';

/**
 * Reactions: one of each kind per member on a post or a published comment. Pressing a reaction
 * toggles it (a plain form button, no JavaScript). Adding one is an engagement event; taking it
 * back removes nothing from the events (they are append-only).
 */
export async function toggleReaction(
  db: Kysely<Database>,
  secret: string,
  actor: Actor,
  post: ConversationPost,
  input: { kind: string; commentId?: string | undefined },
): Promise<{ on: boolean }> {
  if (actor.kind === 'anonymous') throw new UnauthorizedError('Sign in to react.', 'sign_in');
  if (!isReactionKind(input.kind)) throw new ValidationError('That is not one of the reactions.', 'invalid_reaction');
  if (input.commentId !== undefined && !isId(input.commentId)) throw new NotFoundError('There is no such comment.', 'comment_not_found');
  const access = await conversationAccess(db, post, actor);
  if (actor.kind !== 'member' || !access.rights.react) {
    const reason = actor.kind === 'staff' ? undefined : (access.rights.reason ?? 'not_allowed');
    throw new ConversationRefusal(
      reason === undefined ? 'Reactions are for members; sign in as a member to react.' : noCommentMessage(reason, access.bannedUntil),
      'cannot_react',
      { reason, until: access.bannedUntil },
    );
  }
  await limitReaction(db, secret, actor.id);
  const kind = input.kind;
  const commentId = input.commentId ?? null;
  return db.transaction().execute(async (trx) => {
    if (commentId) {
      const c = await trx.selectFrom('comments').select(['post_id', 'status']).where('id', '=', commentId).executeTakeFirst();
      if (!c || c.post_id !== post.id || c.status !== 'published')
        throw new NotFoundError('That comment is not there any more.', 'comment_not_found');
    }
    const removed = await trx
      .deleteFrom('reactions')
      .where('member_id', '=', actor.id)
      .where('post_id', '=', post.id)
      .where('kind', '=', kind)
      .where((eb) => (commentId ? eb('comment_id', '=', commentId) : eb('comment_id', 'is', null)))
      .executeTakeFirst();
    if (Number(removed.numDeletedRows) > 0) return { on: false };
    const added = await trx
      .insertInto('reactions')
      .values({ member_id: actor.id, post_id: post.id, comment_id: commentId, kind })
      .onConflict((oc) => oc.doNothing())
      .returning('id')
      .executeTakeFirst();
    if (added)
      await recordConversationEvent(trx, actor.id, 'reaction', { post_id: post.id, ...(commentId ? { comment_id: commentId } : {}), kind });
    return { on: true };
  });
}
