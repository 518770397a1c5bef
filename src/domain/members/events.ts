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

/**
 * A member's events, newest first. The import that brought them is not an event row (an import
 * of a million members would write a million): it is derived from members.import_id.
 */
export async function memberTimeline(db: Kysely<Database>, memberId: string, limit = 100) {
  const events = await db
    .selectFrom('events')
    .select(['id', 'type', 'occurred_at', 'data', 'machine'])
    .where('member_id', '=', memberId)
    .orderBy('occurred_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  const imported = await db
    .selectFrom('members as m')
    .innerJoin('imports as i', 'i.id', 'm.import_id')
    .select(['i.id', 'i.finished_at', 'i.created_at'])
    .where('m.id', '=', memberId)
    .executeTakeFirst();
  if (!imported) return events;
  const entry = {
    id: `import-${imported.id}`,
    type: 'imported',
    occurred_at: imported.finished_at ?? imported.created_at,
    data: { import_id: imported.id } as unknown,
    machine: false,
  };
  return [...events, entry as (typeof events)[number]].sort((a, b) => b.occurred_at.getTime() - a.occurred_at.getTime()).slice(0, limit);
}
