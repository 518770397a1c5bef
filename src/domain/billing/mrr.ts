import type { Kysely, Transaction } from 'kysely';
import type { Database, MrrKind } from '../../../db/types.ts';

/**
 * MRR that tells the truth: each subscription's monthly revenue now (after its discount; 0 while
 * trialing, paused or ended), and each change of it recorded as a movement (mrr_movements) when
 * our copy of the subscription changes. Movements come from webhooks that re-read Stripe, and a
 * movement is written only when the stored amount differs, so repeated or reordered events
 * write none twice.
 */

export interface MrrInputs {
  status: string;
  paused: boolean;
  /** The price's amount and interval (from the tier). */
  unitAmount: number | null;
  interval: 'month' | 'year' | null;
  discount: { percentOff: number | null; amountOff: number | null } | null;
}

/** The monthly recurring revenue of one subscription, in minor units. */
export function monthlyRevenue(s: MrrInputs): number {
  if (s.unitAmount === null || s.interval === null) return 0;
  if (s.paused) return 0;
  if (s.status !== 'active' && s.status !== 'past_due') return 0; // trialing, canceled, unpaid, incomplete
  let amount = s.unitAmount;
  if (s.discount?.amountOff) amount = Math.max(0, amount - s.discount.amountOff);
  else if (s.discount?.percentOff) amount = amount * (1 - s.discount.percentOff / 100);
  return Math.round(s.interval === 'year' ? amount / 12 : amount);
}

export interface MrrChange {
  fromCents: number;
  toCents: number;
  previous: { status: string; tierId: string | null; interval: string | null; couponId: string | null; paused: boolean } | null;
  next: { status: string; tierId: string | null; interval: string | null; couponId: string | null; paused: boolean };
}

/** The kind and cause of a change of a subscription's MRR (before the member's history is known). */
export function classify(c: MrrChange, hadRevenueBefore: boolean): { kind: MrrKind; cause: string } | null {
  if (c.fromCents === c.toCents) return null;
  const p = c.previous;
  if (c.fromCents === 0) {
    const cause = p?.status === 'trialing' ? 'trial_converted' : p?.paused ? 'resumed' : 'started';
    return { kind: hadRevenueBefore ? 'reactivation' : 'new', cause };
  }
  if (c.toCents === 0) return { kind: 'churn', cause: c.next.paused ? 'paused' : 'ended' };
  const up = c.toCents > c.fromCents;
  let cause = 'price';
  if (p && p.tierId !== c.next.tierId) cause = up ? 'upgrade' : 'downgrade';
  else if (p && p.interval !== c.next.interval) cause = 'interval';
  else if (p && p.couponId !== c.next.couponId) cause = c.next.couponId ? 'discount_start' : 'discount_end';
  return { kind: up ? 'expansion' : 'contraction', cause };
}

export async function recordMrrMovement(
  trx: Transaction<Database>,
  input: { memberId: string; subscriptionId: string; change: MrrChange },
): Promise<MrrKind | null> {
  const { change } = input;
  if (change.fromCents === change.toCents) return null;
  // Revenue before, from this member's earlier movements (any subscription): a comeback is a reactivation.
  const before = await trx
    .selectFrom('mrr_movements')
    .select('id')
    .where('member_id', '=', input.memberId)
    .where('to_cents', '>', 0)
    .limit(1)
    .executeTakeFirst();
  const c = classify(change, before !== undefined);
  if (!c) return null;
  await trx
    .insertInto('mrr_movements')
    .values({
      member_id: input.memberId,
      stripe_subscription_id: input.subscriptionId,
      kind: c.kind,
      cause: c.cause,
      from_cents: change.fromCents,
      to_cents: change.toCents,
    })
    .execute();
  return c.kind;
}

/** The stats overview's money figures for a window: MRR movement by kind, trial conversion, offer redemptions. */
export async function moneyOverview(db: Kysely<Database>, since: Date, until: Date = new Date()) {
  const movements = await db
    .selectFrom('mrr_movements')
    .select(['kind', (eb) => eb.fn.sum<string>('delta_cents').as('delta'), (eb) => eb.fn.countAll<string>().as('count')])
    .where('occurred_at', '>=', since)
    .where('occurred_at', '<', until)
    .groupBy('kind')
    .execute();
  const byKind: Record<MrrKind, { cents: number; count: number }> = {
    new: { cents: 0, count: 0 },
    expansion: { cents: 0, count: 0 },
    contraction: { cents: 0, count: 0 },
    churn: { cents: 0, count: 0 },
    reactivation: { cents: 0, count: 0 },
  };
  for (const m of movements) byKind[m.kind] = { cents: Number(m.delta), count: Number(m.count) };
  const net = Object.values(byKind).reduce((a, b) => a + b.cents, 0);
  const mrr = await db
    .selectFrom('subscriptions')
    .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('mrr_cents'), eb.lit(0)).as('total'))
    .executeTakeFirstOrThrow();
  // Trials that ended in the window, and how many of them converted (a trial_converted movement).
  const trials = await db
    .selectFrom('subscriptions as s')
    .select([
      (eb) => eb.fn.countAll<string>().as('ended'),
      (eb) =>
        eb.fn
          .count<string>(
            eb
              .case()
              .when(
                eb.exists(
                  eb
                    .selectFrom('mrr_movements as mm')
                    .select('mm.id')
                    .whereRef('mm.stripe_subscription_id', '=', 's.stripe_subscription_id')
                    .where('mm.cause', '=', 'trial_converted'),
                ),
              )
              .then(1)
              .end(),
          )
          .as('converted'),
    ])
    .where('s.trial_end', 'is not', null)
    .where('s.trial_end', '>=', since)
    .where('s.trial_end', '<', until)
    .where('s.status', '!=', 'trialing')
    .executeTakeFirstOrThrow();
  const offers = await db
    .selectFrom('offer_redemptions as r')
    .innerJoin('offers as o', 'o.id', 'r.offer_id')
    .select(['o.id', 'o.name', 'o.code', (eb) => eb.fn.countAll<string>().as('redemptions')])
    .where('r.redeemed_at', '>=', since)
    .where('r.redeemed_at', '<', until)
    .groupBy(['o.id', 'o.name', 'o.code'])
    .orderBy('redemptions', 'desc')
    .execute();
  return {
    mrrCents: Number(mrr.total),
    movement: byKind,
    netCents: net,
    trials: { ended: Number(trials.ended), converted: Number(trials.converted) },
    offers: offers.map((o) => ({ id: o.id, name: o.name, code: o.code, redemptions: Number(o.redemptions) })),
  };
}
