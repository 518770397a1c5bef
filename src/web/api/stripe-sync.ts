import { z } from 'zod';
import type { StripeSync as SyncRecord } from '../../domain/billing/adopt.ts';
import { Id, Timestamp } from './schema.ts';

/** The Stripe sync API's contract (docs/api.md "Billing"): the StripeSync shape and its one serializer. */

const UnmatchedSubscription = z.strictObject({
  subscription: z.string(),
  customer: z.string(),
  email: z.string().nullable(),
  status: z.string(),
  price: z.string(),
  tier: z.string().meta({ description: 'The slug of the tier the price is attached to.' }),
  reason: z.enum(['no_member', 'member_has_other_customer']),
});

const SyncReport = z.strictObject({
  prices: z.array(z.string()).meta({ description: 'The tier prices whose subscriptions were listed.' }),
  subscriptions: z.int().meta({ description: 'Active, trialing and past-due subscriptions found on those prices.' }),
  linked: z.int().meta({ description: 'Subscriptions stored, or members changed, by this run.' }),
  unchanged: z.int().meta({ description: 'Subscriptions already linked (a repeated run puts everything here).' }),
  by_email: z.int().meta({ description: "Matched by the customer's email rather than its id." }),
  unmatched_total: z.int(),
  unmatched: z.array(UnmatchedSubscription).meta({ description: 'The first 500.' }),
  without_subscription_total: z.int(),
  without_subscription: z.array(z.strictObject({ member_id: Id, email: z.string(), customer: z.string().nullable() })).meta({
    description:
      "Members with a Stripe customer id, or paying through Stripe by their tier, but no subscription on a tier's price (the first 500).",
  }),
});

export const StripeSync = z
  .strictObject({
    id: Id,
    status: z.enum(['queued', 'running', 'done', 'failed']),
    via: z.enum(['admin', 'cli', 'api']),
    subscriptions: z.int(),
    linked: z.int(),
    unchanged: z.int(),
    unmatched: z.int(),
    error: z
      .string()
      .nullable()
      .meta({ description: 'Why a failed run failed (e.g. Stripe could not be reached); no member was changed.' }),
    created_at: Timestamp,
    started_at: Timestamp.nullable(),
    finished_at: Timestamp.nullable(),
    report: SyncReport.nullable().meta({ description: 'Set when the run is done.' }),
  })
  .meta({ id: 'StripeSync' });

export const StripeSyncEnvelope = z.strictObject({ sync: StripeSync });

export function stripeSyncJson(s: SyncRecord): z.infer<typeof StripeSync> {
  const r = s.report;
  return {
    id: s.id,
    status: s.status,
    via: s.via,
    subscriptions: s.subscriptions,
    linked: s.linked,
    unchanged: s.unchanged,
    unmatched: s.unmatched,
    error: s.error,
    created_at: s.createdAt.toISOString(),
    started_at: s.startedAt?.toISOString() ?? null,
    finished_at: s.finishedAt?.toISOString() ?? null,
    report: r && {
      prices: r.prices,
      subscriptions: r.subscriptions,
      linked: r.linked,
      unchanged: r.unchanged,
      by_email: r.byEmail,
      unmatched_total: r.unmatchedTotal,
      unmatched: r.unmatched,
      without_subscription_total: r.withoutSubscriptionTotal,
      without_subscription: r.withoutSubscription.map((m) => ({ member_id: m.memberId, email: m.email, customer: m.customer })),
    },
  };
}
