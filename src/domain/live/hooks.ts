import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { queueAlerts } from './alerts.ts';
import { publishLive, type LiveData, type LiveType } from './events.ts';

/**
 * Where the live feed hears of facts: the points that already emit outbound webhook events in the
 * fact's transaction (webhooks/events.ts, members/events.ts), plus the few facts no webhook names
 * (a held or reported comment, a send's milestones, a failed send). Each is one call there.
 */

/** From emitWebhookEvent: the webhook types the feed shows as they are. */
const FROM_WEBHOOK: ReadonlySet<string> = new Set(['question.created', 'send.sent', 'import.finished']);

export async function liveFromWebhookEvent(
  db: Kysely<Database>,
  type: string,
  payload: Record<string, string | number | boolean | null | Record<string, unknown>> | undefined,
): Promise<void> {
  if (!payload) return;
  // The feed carries ids and states only: nested values (a member's custom fields) stay out.
  const data: LiveData = {};
  for (const [key, value] of Object.entries(payload)) if (value === null || typeof value !== 'object') data[key] = value;
  if (FROM_WEBHOOK.has(type)) await publishFact(db, type as LiveType, data);
  // A comment or question held by the rules (first comment, a link from a new member, a burst).
  if ((type === 'comment.created' || type === 'question.created') && data.status === 'held') {
    await publishFact(db, 'comment.held', { id: data.id ?? null, post_id: data.post_id ?? null, member_id: data.member_id ?? null });
  }
}

/** From recordEvent (members/events.ts): sign-ups with their platform, confirmations, upgrades, cancellations, failed payments. */
export async function liveFromMemberEvent(
  db: Kysely<Database>,
  memberId: string,
  type: string,
  data: Record<string, unknown>,
): Promise<void> {
  const live: LiveType | undefined =
    type === 'subscribed'
      ? 'member.created'
      : type === 'confirmed'
        ? 'member.confirmed'
        : type === 'subscription_started'
          ? 'subscription.started'
          : type === 'subscription_ended'
            ? 'subscription.ended'
            : type === 'status_changed' && data.payment_failed === true
              ? 'payment.failed'
              : undefined;
  if (!live) return;
  const m = await db
    .selectFrom('members')
    .select(['id', 'email', 'source_platform', 'landing_page', 'status'])
    .where('id', '=', memberId)
    .executeTakeFirst();
  if (!m) return;
  await publishFact(db, live, { id: m.id, email: m.email, platform: m.source_platform, landing_page: m.landing_page, status: m.status });
}

/** A member's report on a comment; `held` when the reports put it on hold. */
export async function liveCommentReported(db: Kysely<Database>, commentId: string, postId: string, held: boolean): Promise<void> {
  await publishFact(db, 'comment.reported', { id: commentId, post_id: postId, held });
}

/**
 * After a batch of a send is marked posted: "started" at the first batch, "50" once half the
 * recipients are posted (each once: keyed; two lanes may both see it).
 */
export async function liveSendProgress(db: Kysely<Database>, sendId: string): Promise<void> {
  const row = await sql<{ posted: string; recipients: number }>`
    select coalesce(sum(b.posted_count + b.rejected_count), 0) as posted, s.recipients
    from sends s left join send_batches b on b.send_id = s.id and b.status = 'posted'
    where s.id = ${sendId} group by s.recipients
  `.execute(db);
  const r = row.rows[0];
  if (!r || r.recipients <= 0) return;
  const posted = Number(r.posted);
  if (posted > 0)
    await publishLive(
      db,
      'send.progress',
      { id: sendId, milestone: 'started', posted, recipients: r.recipients },
      { key: `send:${sendId}:started` },
    );
  if (posted * 2 >= r.recipients)
    await publishLive(db, 'send.progress', { id: sendId, milestone: '50', posted, recipients: r.recipients }, { key: `send:${sendId}:50` });
}

/**
 * The provider stopped the send (sending/store.ts flips sends.provider_paused_at, once per pause):
 * `rate_limited` (a 429) or `provider_error` (a 5xx, a timeout, no answer), with what it said.
 */
export async function liveSendPaused(
  db: Kysely<Database>,
  sendId: string,
  pause: { at: Date; reason: 'rate_limited' | 'provider_error'; error: string },
): Promise<void> {
  await publishLive(
    db,
    'send.progress',
    { id: sendId, milestone: 'paused', reason: pause.reason, error: pause.error.slice(0, 200) },
    { key: `send:${sendId}:paused:${pause.at.getTime()}` },
  );
}

/** The provider accepted a batch of the send again after a pause that began at `pausedAt`. */
export async function liveSendResumed(db: Kysely<Database>, sendId: string, pausedAt: Date): Promise<void> {
  await publishLive(
    db,
    'send.progress',
    { id: sendId, milestone: 'resumed', paused_seconds: Math.max(0, Math.round((Date.now() - pausedAt.getTime()) / 1000)) },
    { key: `send:${sendId}:resumed:${pausedAt.getTime()}` },
  );
}

/**
 * A send settled: "done" (sent, or failed: every batch settled or one gave up), and send.failed
 * when it failed. Keyed per outcome, so a failed send retried to the end is "done" again, as sent.
 */
export async function liveSendSettled(db: Kysely<Database>, sendId: string, status: string): Promise<void> {
  if (status !== 'sent' && status !== 'failed') return;
  await publishLive(db, 'send.progress', { id: sendId, milestone: 'done', status }, { key: `send:${sendId}:done:${status}` });
  if (status === 'failed') await publishFact(db, 'send.failed', { id: sendId });
}

/** The fact, and the alerts it owes staff (alerts.ts). */
async function publishFact(db: Kysely<Database>, type: LiveType, data: LiveData): Promise<void> {
  await publishLive(db, type, data);
  await queueAlerts(db, type, data);
}
