import type { Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { CancellationReason, Database } from '../../../db/types.ts';
import { ConflictError, ValidationError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import { enqueue } from '../../lib/queue.ts';
import { queueStaffAlert } from '../live/alerts.ts';
import { isStripeError } from '../../lib/stripe.ts';
import { PaymentsNotConfigured } from './stripe-calls.ts';
import { offerState } from './offers.ts';

/**
 * A reason to stay (README "Cancellation"): cancelling from the account page asks why, shows the
 * retention offer staff set (the newest active offer of kind 'retention'), and offers a pause of
 * 1–3 months (pause_collection). The member's choice is recorded (cancellations) and applied in
 * Stripe by a job (cancellation_apply, key cancellation-<id>, idempotency key per row): the
 * member does not wait on Stripe; the webhook that follows brings our copy in line.
 */

export const CANCEL_REASONS: Record<CancellationReason, string> = {
  too_expensive: 'It costs too much',
  not_reading: 'I do not read it enough',
  missing_features: 'Something I want is missing',
  switched: 'I am moving to something else',
  temporary: 'I need a break',
  other: 'Another reason',
};

/** Stripe's own feedback values, for its dashboard. */
const STRIPE_FEEDBACK: Record<CancellationReason, Stripe.SubscriptionUpdateParams.CancellationDetails.Feedback> = {
  too_expensive: 'too_expensive',
  not_reading: 'unused',
  missing_features: 'missing_features',
  switched: 'switched_service',
  temporary: 'other',
  other: 'other',
};

export async function retentionOffer(db: Kysely<Database>, tierId: string | null) {
  const offers = await db
    .selectFrom('offers')
    .selectAll()
    .where('kind', '=', 'retention')
    .where('status', '=', 'active')
    .orderBy('id', 'desc')
    .execute();
  return offers.find((o) => offerState(o) === 'active' && (tierId === null || o.tier_id === tierId));
}

/** A member's current paid subscription (what cancellation acts on and the account page shows), if any. */
export async function cancellableSubscription(db: Kysely<Database>, memberId: string) {
  return db
    .selectFrom('subscriptions')
    .select([
      'stripe_subscription_id',
      'tier_id',
      'status',
      'cancel_at_period_end',
      'paused',
      'paused_until',
      'coupon_id',
      'trial_end',
      'current_period_end',
    ])
    .where('member_id', '=', memberId)
    .where('status', 'in', ['active', 'trialing', 'past_due'])
    .orderBy('updated_at', 'desc')
    .executeTakeFirst();
}

export type CancelChoice = { kind: 'cancel' } | { kind: 'retain' } | { kind: 'pause'; months: number };

export async function recordCancellation(
  db: Kysely<Database>,
  stripe: Stripe | undefined,
  memberId: string,
  input: { reason: string; comment?: string | undefined; choice: CancelChoice },
): Promise<{ id: string; outcome: 'cancelled' | 'retained' | 'paused' }> {
  if (!stripe) throw new PaymentsNotConfigured();
  if (!(input.reason in CANCEL_REASONS)) throw new ValidationError('Choose a reason from the list.', 'invalid_reason');
  const comment = (input.comment ?? '').trim();
  if (comment.length > 2000) throw new ValidationError('Keep it under 2,000 characters.', 'invalid_comment');
  return db.transaction().execute(async (trx) => {
    await trx.selectFrom('members').select('id').where('id', '=', memberId).forUpdate().executeTakeFirstOrThrow();
    const sub = await cancellableSubscription(trx, memberId);
    if (!sub) throw new ConflictError('You have no paid membership to cancel.', 'no_subscription');
    let offerId: string | null = null;
    if (input.choice.kind === 'retain') {
      const offer = await retentionOffer(trx, sub.tier_id);
      if (!offer) throw new ConflictError('That offer is no longer available.', 'offer_unavailable');
      if (sub.coupon_id === offer.stripe_coupon_id) throw new ConflictError('You have this offer already.', 'offer_taken');
      offerId = offer.id;
    }
    if (input.choice.kind === 'pause') {
      if (![1, 2, 3].includes(input.choice.months)) throw new ValidationError('A pause is 1, 2 or 3 months.', 'invalid_pause');
      if (sub.status !== 'active') throw new ConflictError('Only an active paid membership can be paused (not a trial).', 'not_pausable');
    }
    if (input.choice.kind === 'cancel' && sub.cancel_at_period_end)
      throw new ConflictError('Your membership is already set to end.', 'already_cancelled');
    const outcome = input.choice.kind === 'cancel' ? 'cancelled' : input.choice.kind === 'retain' ? 'retained' : 'paused';
    const row = await trx
      .insertInto('cancellations')
      .values({
        member_id: memberId,
        stripe_subscription_id: sub.stripe_subscription_id,
        reason: input.reason as CancellationReason,
        comment,
        outcome,
        offer_id: offerId,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await enqueue(
      trx,
      'cancellation_apply',
      { cancellationId: row.id, pauseMonths: input.choice.kind === 'pause' ? input.choice.months : 0 },
      { jobKey: `cancellation-${row.id}`, maxAttempts: 10 },
    );
    return { id: row.id, outcome };
  });
}

/**
 * The job: the member's choice made in Stripe (one idempotency key per choice). Once made, the
 * row says so (applied_at). A choice Stripe refuses (the subscription is gone, the offer no longer
 * applies) or that still fails on the job's last attempt is never dropped silently: the row keeps
 * Stripe's reason (failed_at, failure) and staff are alerted to act on it by hand.
 */
export async function applyCancellation(
  db: Kysely<Database>,
  stripe: Stripe | undefined,
  cancellationId: string,
  pauseMonths: number,
  options: { lastAttempt?: boolean } = {},
) {
  if (!stripe) return;
  const c = await db
    .selectFrom('cancellations as c')
    .leftJoin('offers as o', 'o.id', 'c.offer_id')
    .select([
      'c.id',
      'c.member_id',
      'c.stripe_subscription_id',
      'c.reason',
      'c.comment',
      'c.outcome',
      'c.created_at',
      'c.applied_at',
      'c.failed_at',
      'o.stripe_promotion_code_id',
    ])
    .where('c.id', '=', cancellationId)
    .executeTakeFirst();
  if (!c || c.applied_at || c.failed_at) return;
  const key = `cancellation-${c.id}`;
  try {
    if (c.outcome === 'cancelled') {
      await stripe.subscriptions.update(
        c.stripe_subscription_id,
        {
          cancel_at_period_end: true,
          cancellation_details: { feedback: STRIPE_FEEDBACK[c.reason], ...(c.comment ? { comment: c.comment.slice(0, 500) } : {}) },
        },
        { idempotencyKey: key },
      );
    } else if (c.outcome === 'retained' && c.stripe_promotion_code_id) {
      await stripe.subscriptions.update(
        c.stripe_subscription_id,
        { discounts: [{ promotion_code: c.stripe_promotion_code_id }] },
        { idempotencyKey: key },
      );
    } else if (c.outcome === 'paused') {
      // From the moment the member asked (not the job's run), so a retried job asks the same.
      const resumesAt = Math.floor(c.created_at.getTime() / 1000) + pauseMonths * 30 * 86400;
      await stripe.subscriptions.update(
        c.stripe_subscription_id,
        { pause_collection: { behavior: 'void', resumes_at: resumesAt } },
        { idempotencyKey: key },
      );
    }
  } catch (err) {
    // A refusal (4xx other than a rate limit or a lock) will not change on retry.
    const refused =
      isStripeError(err) &&
      err.statusCode !== undefined &&
      err.statusCode >= 400 &&
      err.statusCode < 500 &&
      ![409, 429].includes(err.statusCode);
    if (!refused && !options.lastAttempt) throw err;
    const failure = err instanceof Error ? err.message.slice(0, 500) : String(err).slice(0, 500);
    log.error('cancellation not applied in Stripe; staff alerted', { cancellationId: c.id, outcome: c.outcome, failure });
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('cancellations').set({ failed_at: new Date(), failure }).where('id', '=', c.id).execute();
      await queueStaffAlert(trx, {
        kind: 'payment_failed',
        factKey: `cancellation-failed:${c.id}`,
        summary: `A member's choice to ${c.outcome === 'cancelled' ? 'cancel' : c.outcome === 'paused' ? 'pause' : 'take the retention offer'} could not be made in Stripe: ${failure}`,
        link: c.member_id ? `/admin/members/${c.member_id}` : '/admin/members',
      });
    });
    return;
  }
  await db.updateTable('cancellations').set({ applied_at: new Date() }).where('id', '=', c.id).execute();
}

/** Why members leave: reasons with how many cancelled, took the offer, paused. */
export async function cancellationReasons(db: Kysely<Database>, since: Date) {
  const rows = await db
    .selectFrom('cancellations')
    .select(['reason', 'outcome', (eb) => eb.fn.countAll<string>().as('n')])
    .where('created_at', '>=', since)
    .groupBy(['reason', 'outcome'])
    .execute();
  return (Object.keys(CANCEL_REASONS) as CancellationReason[]).map((reason) => {
    const of = (o: string) => Number(rows.find((r) => r.reason === reason && r.outcome === o)?.n ?? 0);
    return { reason, label: CANCEL_REASONS[reason], cancelled: of('cancelled'), retained: of('retained'), paused: of('paused') };
  });
}
