import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/**
 * The conversation's engagement events, in the shared `events` table: a published comment
 * ('comment'), a comment marked as a question ('question'), a reaction added ('reaction').
 * A held comment counts when it is published, never before: held spam is not engagement.
 */
export type ConversationEventType = 'comment' | 'question' | 'reaction';

export async function recordConversationEvent(
  db: Kysely<Database>,
  memberId: string,
  type: ConversationEventType,
  data: { post_id: string; comment_id?: string; kind?: string },
): Promise<void> {
  await db
    .insertInto('events')
    .values({ member_id: memberId, type, data: JSON.stringify(data) })
    .execute();
}
