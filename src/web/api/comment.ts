import { z } from 'zod';
import type { CommentRow, ListedStatus } from '../../domain/community/review.ts';
import { Id, Next, Timestamp } from './schema.ts';

/** The comments API's contract: the moderation body, the Comment shape, and its one serializer. */

/** PATCH /api/v1/comments/:id: `published` approves or restores, `hidden` hides. */
export const patchCommentBody = z
  .strictObject({ status: z.enum(['published', 'hidden']), note: z.string().max(500).optional() })
  .meta({ id: 'CommentPatch' });

export const Comment = z
  .strictObject({
    id: Id,
    post_id: Id,
    parent_id: Id.nullable(),
    member_id: Id.nullable(),
    staff_user_id: Id.nullable().meta({ description: "Set on the brand's own replies." }),
    body: z.string().meta({ description: 'The text as written (Markdown), never rendered.' }),
    status: z.enum(['published', 'held', 'hidden']),
    hold_reason: z.string().nullable().meta({ description: 'Why a held comment waits for review; null unless held.' }),
    question: z.boolean(),
    answered: z.boolean(),
    created_at: Timestamp,
    edited_at: Timestamp.nullable(),
  })
  .meta({ id: 'Comment' });

export type CommentJson = z.infer<typeof Comment>;

export const CommentEnvelope = z.strictObject({ comment: Comment });
export const CommentPage = z.strictObject({ comments: z.array(Comment), next: Next });

export function commentJson(c: CommentRow): CommentJson {
  return {
    id: c.id,
    post_id: c.post_id,
    parent_id: c.parent_id,
    member_id: c.member_id,
    staff_user_id: c.staff_user_id,
    body: c.body,
    status: c.status as ListedStatus,
    hold_reason: c.status === 'held' ? c.hold_reason : null,
    question: c.question,
    answered: c.answered_at !== null,
    created_at: c.created_at.toISOString(),
    edited_at: c.edited_at?.toISOString() ?? null,
  };
}
