import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';

/** Event types written by the audience capability (tracking adds opens, clicks, reads…). */
export type MemberEventType =
  | 'subscribed'
  | 'confirmed'
  | 'resubscribed'
  | 'unsubscribed'
  | 'newsletters_changed'
  | 'imported'
  | 'labels_changed'
  | 'status_changed'
  | 'data_exported'
  | 'email_changed'
  | 'subscription_started'
  | 'subscription_ended'
  | 'bounced'
  | 'complained';

/** Appends one event. Events are never updated; a deleted member's events stay, anonymous. */
export async function recordEvent(
  db: Kysely<Database>,
  memberId: string,
  type: MemberEventType,
  data: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto('events')
    .values({ member_id: memberId, type, data: JSON.stringify(data) })
    .execute();
}

export async function memberTimeline(db: Kysely<Database>, memberId: string, limit = 100) {
  return db
    .selectFrom('events')
    .select(['id', 'type', 'occurred_at', 'data', 'machine'])
    .where('member_id', '=', memberId)
    .orderBy('occurred_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
