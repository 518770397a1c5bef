import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { resolveOutbound, UnsafeUrlError } from '../../lib/outbound-http.ts';
import { enqueue } from '../../lib/queue.ts';
import { DELIVERY_TASK, deliveryJobKey, WEBHOOK_EVENTS, type WebhookEventType } from './events.ts';

/** Endpoints staff register, their deliveries and replays. Delivery itself: deliver.ts. */

export const MAX_ENDPOINTS = 50;

/** `whsec_` and 24 random bytes in base64, as Standard Webhooks libraries print and read it. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

const ENDPOINT_COLUMNS = ['id', 'url', 'description', 'events', 'created_at', 'disabled_at', 'disabled_reason', 'failing_since'] as const;

export interface NewWebhook {
  url: string;
  events: string[];
  description?: string | undefined;
  createdBy?: string | undefined;
}

/** Checks the URL (SSRF guard: every address of the host) and stores the endpoint with a new secret. */
export async function createWebhook(db: Kysely<Database>, input: NewWebhook, options: { allowPrivate: boolean }) {
  const events = [...new Set(input.events)];
  if (events.length === 0) throw new ValidationError('Choose at least one event.');
  const unknown = events.find((e) => !(WEBHOOK_EVENTS as readonly string[]).includes(e));
  if (unknown !== undefined) throw new ValidationError(`Unknown event "${unknown}"; events are: ${WEBHOOK_EVENTS.join(', ')}.`);
  if (input.url.length > 2000) throw new ValidationError('The URL is too long (2000 characters at most).');
  try {
    await resolveOutbound(input.url, { allowPrivate: options.allowPrivate });
  } catch (err) {
    if (err instanceof UnsafeUrlError) throw new ValidationError(err.message, 'unsafe_url');
    throw err;
  }
  const count = await db
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  if (Number(count.n) >= MAX_ENDPOINTS) throw new ConflictError(`A site has at most ${MAX_ENDPOINTS} webhook endpoints.`);
  const secret = newSecret();
  const row = await db
    .insertInto('webhooks')
    .values({
      url: new URL(input.url).href,
      events,
      description: (input.description ?? '').trim(),
      secret,
      created_by: input.createdBy ?? null,
    })
    .returning(ENDPOINT_COLUMNS)
    .executeTakeFirstOrThrow();
  return { ...row, secret };
}

export type WebhookEndpoint = Awaited<ReturnType<typeof listWebhooks>>[number];

export async function listWebhooks(db: Kysely<Database>) {
  return db.selectFrom('webhooks').select(ENDPOINT_COLUMNS).orderBy('id').execute();
}

export async function getWebhook(db: Kysely<Database>, id: string) {
  if (!isId(id)) throw new NotFoundError('No such webhook.');
  const row = await db.selectFrom('webhooks').select(ENDPOINT_COLUMNS).where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError('No such webhook.');
  return row;
}

/** Deletes the endpoint, its deliveries and their attempts; queued jobs find nothing and stop. */
export async function deleteWebhook(db: Kysely<Database>, id: string): Promise<void> {
  if (!isId(id)) throw new NotFoundError('No such webhook.');
  const r = await db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) throw new NotFoundError('No such webhook.');
}

/** What staff see of a delivery (the list and a replay answer alike). */
const DELIVERY_COLUMNS = [
  'id',
  'message_id',
  'event_type',
  'status',
  'attempts',
  'last_status_code',
  'last_response',
  'last_error',
  'next_attempt_at',
  'created_at',
  'delivered_at',
] as const;

/** An endpoint's deliveries, newest first, each with its last response code. */
export async function listDeliveries(db: Kysely<Database>, webhookId: string, options: { limit?: number | undefined } = {}) {
  await getWebhook(db, webhookId);
  const limit = options.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new ValidationError('limit must be between 1 and 200.');
  return db
    .selectFrom('webhook_deliveries')
    .select(DELIVERY_COLUMNS)
    .where('webhook_id', '=', webhookId)
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

export type WebhookDeliveryRow = Awaited<ReturnType<typeof listDeliveries>>[number];

/**
 * Sends one delivery again, under the same webhook-id (receivers deduplicate on it). Replaying
 * on a disabled endpoint turns it back on: staff asked for it to be tried.
 */
export async function replayDelivery(db: Kysely<Database>, webhookId: string, deliveryId: string): Promise<WebhookDeliveryRow> {
  if (!isId(deliveryId)) throw new NotFoundError('No such delivery.');
  await getWebhook(db, webhookId);
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', next_attempt_at: null })
      .where('id', '=', deliveryId)
      .where('webhook_id', '=', webhookId)
      .returning('id')
      .executeTakeFirst();
    if (!row) throw new NotFoundError('No such delivery.');
    await trx
      .updateTable('webhooks')
      .set({ disabled_at: null, disabled_reason: null, failing_since: null })
      .where('id', '=', webhookId)
      .where('disabled_at', 'is not', null)
      .execute();
    await enqueue(trx, DELIVERY_TASK, { deliveryId }, { jobKey: deliveryJobKey(deliveryId), maxAttempts: 5 });
    return trx.selectFrom('webhook_deliveries').select(DELIVERY_COLUMNS).where('id', '=', deliveryId).executeTakeFirstOrThrow();
  });
}

/** Events by name, for forms. */
export function isWebhookEvent(value: string): value is WebhookEventType {
  return (WEBHOOK_EVENTS as readonly string[]).includes(value);
}
