import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type SelectQueryBuilder } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';
import { liveFromWebhookEvent } from '../live/hooks.ts';

/** Every event an endpoint can listen to (README "Outbound webhooks"). */
export const WEBHOOK_EVENTS = [
  'member.created',
  'member.updated',
  'member.deleted',
  'member.unsubscribed',
  'subscription.started',
  'subscription.changed',
  'subscription.ended',
  'post.published',
  'send.sent',
  'comment.created',
  'question.created',
  'import.finished',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Only what the event needs: ids, an address, a status. Never a list of members, never a secret. */
export type WebhookScalar = string | number | boolean | null;
export type WebhookData = Record<string, WebhookScalar | Record<string, WebhookScalar>>;

export const DELIVERY_TASK = 'webhook_delivery' as const;

export function deliveryJobKey(deliveryId: string): string {
  return `webhook_delivery:${deliveryId}`;
}

/**
 * Records one event for every enabled endpoint that listens to it and queues their deliveries.
 * Call it with the transaction of the change itself: the delivery rows and their jobs commit with
 * the change, so an event is never lost and never sent for a change that rolled back. `data` may
 * be a function, called only when some endpoint listens (no extra query otherwise).
 */
export async function emitWebhookEvent(
  db: Kysely<Database>,
  type: WebhookEventType,
  data: WebhookData | (() => Promise<WebhookData | undefined>),
): Promise<number> {
  // The staff live feed hears the same facts at the same point (domain/live/hooks.ts).
  if (typeof data !== 'function') await liveFromWebhookEvent(db, type, data);
  const endpoints = await listeningEndpoints(db, type).execute();
  if (endpoints.length === 0) return 0;
  const resolved = typeof data === 'function' ? await data() : data;
  if (resolved === undefined) return 0;
  const payload = JSON.stringify({ type, timestamp: new Date().toISOString(), data: resolved });
  const rows = await db
    .insertInto('webhook_deliveries')
    .values(endpoints.map((e) => ({ webhook_id: e.id, message_id: `msg_${randomUUID()}`, event_type: type, payload })))
    .returning('id')
    .execute();
  for (const row of rows) await enqueue(db, DELIVERY_TASK, { deliveryId: row.id }, { jobKey: deliveryJobKey(row.id), maxAttempts: 5 });
  return rows.length;
}

/** The enabled endpoints that listen to this event type. */
function listeningEndpoints(db: Kysely<Database>, type: WebhookEventType) {
  return db
    .selectFrom('webhooks')
    .select('id')
    .where('disabled_at', 'is', null)
    .where(sql<boolean>`events @> array[${type}]::text[]`);
}

/**
 * What a member event carries: id, address, status and the custom field values ({key: value},
 * the Member API's `fields`). Undefined once the member is gone.
 */
export function memberData(db: Kysely<Database>, memberId: string): () => Promise<WebhookData | undefined> {
  return async () => {
    const m = await db.selectFrom('members').select(['id', 'email', 'status', 'fields']).where('id', '=', memberId).executeTakeFirst();
    return m ? { id: m.id, email: m.email, status: m.status, fields: m.fields ?? {} } : undefined;
  };
}

/** member.deleted for each of these members (a bulk delete), read before the rows go; nothing when no endpoint listens. */
export async function emitMembersDeleted(
  db: Kysely<Database>,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  memberIds: string[] | SelectQueryBuilder<any, any, { id: string }>,
): Promise<void> {
  if (Array.isArray(memberIds) && memberIds.length === 0) return;
  if (!(await listeningEndpoints(db, 'member.deleted').executeTakeFirst())) return;
  const members = await db.selectFrom('members').select(['id', 'email']).where('id', 'in', memberIds).execute();
  for (const m of members) await emitWebhookEvent(db, 'member.deleted', { id: m.id, email: m.email });
}
