import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { liveFromMemberEvent } from '../live/hooks.ts';
import { emitWebhookEvent, memberData, type WebhookEventType } from '../webhooks/events.ts';

/** The outbound webhook event each member event is (README "Outbound webhooks"); unlisted: none. */
const WEBHOOK_EVENT: Partial<Record<MemberEventType, WebhookEventType>> = {
  subscribed: 'member.created',
  unsubscribed: 'member.unsubscribed',
  confirmed: 'member.updated',
  resubscribed: 'member.updated',
  newsletters_changed: 'member.updated',
  labels_changed: 'member.updated',
  fields_changed: 'member.updated',
  status_changed: 'member.updated',
  email_changed: 'member.updated',
  bounced: 'member.updated',
  complained: 'member.updated',
  subscription_started: 'subscription.started',
  subscription_ended: 'subscription.ended',
};

/** Event types written by the audience capability (tracking adds opens, clicks, reads…). */
export type MemberEventType =
  | 'subscribed'
  | 'confirmed'
  | 'resubscribed'
  | 'unsubscribed'
  | 'newsletters_changed'
  | 'imported'
  | 'labels_changed'
  | 'fields_changed'
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
  // In the caller's transaction: the webhook deliveries commit (or roll back) with the change.
  const hook = WEBHOOK_EVENT[type];
  if (hook) await emitWebhookEvent(db, hook, memberData(db, memberId));
  await liveFromMemberEvent(db, memberId, type, data);
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
