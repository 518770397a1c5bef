import { createHmac } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { postPinned, resolveOutbound, UnsafeUrlError, type GuardOptions, type PostOutcome } from '../../lib/outbound-http.ts';
import { enqueue, PRIORITY } from '../../lib/queue.ts';
import { DELIVERY_TASK, deliveryJobKey } from './events.ts';

/**
 * One attempt at one delivery (the `webhook_delivery` job). The job never throws for a receiver's
 * failure: it logs the attempt, then queues the next one itself (exponential backoff) until the
 * delivery is 3 days old, and disables an endpoint that has failed without a success for 3 days.
 */

export const RETRY_WINDOW_MS = 3 * 24 * 3600 * 1000;
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface DeliverOptions extends Pick<GuardOptions, 'allowPrivate' | 'resolve'> {
  /** The sender of the owner's alert when an endpoint is disabled (MAIL_FROM). */
  from: string;
  /** The clock (tests advance it to compress 3 days). */
  now?: () => Date;
  timeoutMs?: number;
  /** The first retry's delay; each next one doubles, up to 12 hours. */
  baseDelayMs?: number;
}

/** The delay before attempt n+1 after n failed attempts: 30 s, 1 min, 2 min… capped at 12 h. */
export function backoffMs(failedAttempts: number, baseMs = 30_000): number {
  return Math.min(baseMs * 2 ** Math.max(0, failedAttempts - 1), 12 * 3600 * 1000);
}

/** Standard Webhooks' signature: `v1,` and base64 HMAC-SHA256 of `id.timestamp.body` under the secret's bytes. */
export function signPayload(secret: string, messageId: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64')}`;
}

export type DeliverOutcome = 'delivered' | 'retrying' | 'failed' | 'disabled' | 'skipped';

export async function deliverWebhook(db: Kysely<Database>, deliveryId: string, options: DeliverOptions): Promise<DeliverOutcome> {
  const now = options.now?.() ?? new Date();
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .select([
      'd.id',
      'd.webhook_id',
      'd.message_id',
      'd.payload',
      'd.status',
      'd.attempts',
      'd.created_at',
      'w.url',
      'w.secret',
      'w.disabled_at',
      'w.failing_since',
    ])
    .where('d.id', '=', deliveryId)
    .executeTakeFirst();
  if (!row || row.status !== 'pending') return 'skipped';
  if (row.disabled_at) {
    await db
      .updateTable('webhook_deliveries')
      .set({ status: 'failed', last_error: 'The endpoint is disabled.', next_attempt_at: null })
      .where('id', '=', deliveryId)
      .execute();
    return 'skipped';
  }

  const body = JSON.stringify(row.payload);
  const timestamp = Math.floor(now.getTime() / 1000);
  let outcome: PostOutcome;
  try {
    const target = await resolveOutbound(row.url, { allowPrivate: options.allowPrivate, resolve: options.resolve });
    outcome = await postPinned(
      target,
      body,
      {
        'content-type': 'application/json',
        'user-agent': 'Hearth-Webhooks/1',
        'webhook-id': row.message_id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signPayload(row.secret, row.message_id, timestamp, body),
      },
      { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, excerptBytes: 500 },
    );
  } catch (err) {
    if (!(err instanceof UnsafeUrlError)) throw err;
    outcome = { status: undefined, excerpt: '', error: err.message, durationMs: 0 };
  }
  const ok = outcome.status !== undefined && outcome.status >= 200 && outcome.status < 300;
  const attempts = row.attempts + 1;

  return db.transaction().execute(async (trx) => {
    await trx
      .insertInto('webhook_attempts')
      .values({
        delivery_id: row.id,
        attempted_at: now,
        status_code: outcome.status ?? null,
        response_excerpt: outcome.excerpt || null,
        error: outcome.error ?? null,
        duration_ms: outcome.durationMs,
      })
      .execute();
    const logged = {
      attempts,
      last_status_code: outcome.status ?? null,
      last_response: outcome.excerpt || null,
      last_error: outcome.error ?? (ok ? null : `HTTP ${outcome.status}`),
    };
    if (ok) {
      await trx
        .updateTable('webhook_deliveries')
        .set({ ...logged, status: 'delivered', delivered_at: now, next_attempt_at: null })
        .where('id', '=', row.id)
        .execute();
      await trx.updateTable('webhooks').set({ failing_since: null }).where('id', '=', row.webhook_id).execute();
      return 'delivered';
    }

    const failingSince = row.failing_since ?? now;
    if (!row.failing_since) await trx.updateTable('webhooks').set({ failing_since: now }).where('id', '=', row.webhook_id).execute();
    if (now.getTime() - failingSince.getTime() >= RETRY_WINDOW_MS) {
      await disableEndpoint(trx, row.webhook_id, row.url, now, options.from);
      await trx
        .updateTable('webhook_deliveries')
        .set({ ...logged, status: 'failed', next_attempt_at: null })
        .where('id', '=', row.id)
        .execute();
      return 'disabled';
    }
    if (now.getTime() - row.created_at.getTime() >= RETRY_WINDOW_MS) {
      await trx
        .updateTable('webhook_deliveries')
        .set({ ...logged, status: 'failed', next_attempt_at: null })
        .where('id', '=', row.id)
        .execute();
      return 'failed';
    }
    const next = new Date(now.getTime() + backoffMs(attempts, options.baseDelayMs));
    await trx
      .updateTable('webhook_deliveries')
      .set({ ...logged, next_attempt_at: next })
      .where('id', '=', row.id)
      .execute();
    // The running job holds this key, so this adds the next attempt as a job of its own.
    await enqueue(trx, DELIVERY_TASK, { deliveryId: row.id }, { jobKey: deliveryJobKey(row.id), runAt: next, maxAttempts: 5 });
    return 'retrying';
  });
}

/** Turns the endpoint off, fails its pending deliveries and tells the owner by email (through the mail queue). */
async function disableEndpoint(trx: Kysely<Database>, webhookId: string, url: string, now: Date, from: string): Promise<void> {
  const reason = 'Every delivery failed for 3 days.';
  const changed = await trx
    .updateTable('webhooks')
    .set({ disabled_at: now, disabled_reason: reason })
    .where('id', '=', webhookId)
    .where('disabled_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!changed) return;
  await trx
    .updateTable('webhook_deliveries')
    .set({ status: 'failed', last_error: 'The endpoint was disabled.', next_attempt_at: null })
    .where('webhook_id', '=', webhookId)
    .where('status', '=', 'pending')
    .execute();
  const owners = await trx.selectFrom('staff_users').select('email').where('role', '=', 'owner').where('disabled_at', 'is', null).execute();
  if (owners.length === 0) return;
  const host = new URL(url).host;
  await enqueue(
    trx,
    'send_email',
    {
      message: {
        from,
        to: owners.map((o) => o.email),
        subject: `Webhook endpoint disabled: ${host}`,
        text:
          `Hearth stopped sending events to ${url}: ${reason}\n\n` +
          'Check the receiver, then replay a delivery from Admin → Webhooks to turn the endpoint back on.\n',
        tags: [{ name: 'kind', value: 'webhook-disabled' }],
      },
      idempotencyKey: `webhook-disabled-${webhookId}-${now.getTime()}`,
    },
    { priority: PRIORITY.transactional, maxAttempts: 12 },
  );
}
