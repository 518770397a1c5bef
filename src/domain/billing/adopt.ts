import { domainToASCII, domainToUnicode } from 'node:url';
import { sql, type Kysely } from 'kysely';
import type Stripe from 'stripe';
import type { Database, StripeSyncStatus } from '../../../db/types.ts';
import { DomainError, UnavailableError, ValidationError } from '../../lib/errors.ts';
import { log } from '../../lib/log.ts';
import { enqueue } from '../../lib/queue.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { dbNow } from '../../lib/sql.ts';
import { isStripeError } from '../../lib/stripe.ts';
import { normaliseEmail } from '../members/email.ts';
import { PaymentsNotConfigured } from './stripe-calls.ts';
import { applySubscription, snapshotOf, type SubscriptionSnapshot } from './subscriptions.ts';

/**
 * Adopting the Stripe account's existing subscriptions: members who paid through another tool
 * (Ghost, Substack, beehiiv) keep paying through the same Stripe subscriptions, and Hearth links
 * them. Stripe is only read: nothing is charged or created there.
 *
 * 1. list: every subscription on a price attached to a tier, in an entitling state (active,
 *    trialing, past_due), all pages, with its customer (expanded, for the email);
 * 2. match: the customer to a member by `members.stripe_customer_id`, else by the customer's
 *    email (case-insensitive; the domain in both its Unicode and its punycode form);
 * 3. link: in one transaction, each matched subscription is stored and the member's tier set
 *    exactly as a webhook would (applySubscription), without the paid-welcome email.
 * The listing is complete before anything is written: a Stripe that fails on page three leaves
 * every member as it was. Running it again changes nothing.
 */

/** The subscription states that give access, hence the ones adopted. */
export const ADOPTED_STATUSES = ['active', 'trialing', 'past_due'] as const;

/** How many unmatched subscriptions (and customers without one) a report lists; the totals are always exact. */
export const REPORT_LIST_LIMIT = 500;

export type UnmatchedReason = 'no_member' | 'member_has_other_customer';

/** Why a subscription was left unmatched, in words for staff. */
export const UNMATCHED_REASONS: Record<UnmatchedReason, string> = {
  no_member: 'no member has this customer id or email',
  member_has_other_customer: 'the member with this email is linked to another Stripe customer',
};

export interface UnmatchedSubscription {
  subscription: string;
  customer: string;
  email: string | null;
  status: string;
  price: string;
  tier: string;
  reason: UnmatchedReason;
}

export interface CustomerWithoutSubscription {
  memberId: string;
  email: string;
  /** Null for a member imported as paying through Stripe whose file had no customer id. */
  customer: string | null;
}

export interface AdoptionReport {
  /** The tier prices whose subscriptions were listed. */
  prices: string[];
  /** Entitling subscriptions found on those prices. */
  subscriptions: number;
  /** Subscriptions stored or members changed by this run. */
  linked: number;
  /** Subscriptions already in line (a run repeated changes nothing: everything lands here). */
  unchanged: number;
  /** Of the matched ones, how many were matched by the customer's email rather than its id. */
  byEmail: number;
  unmatchedTotal: number;
  unmatched: UnmatchedSubscription[];
  /**
   * Members with a Stripe customer id but none of the subscriptions listed, and members paying
   * through Stripe by their tier (as an import marks them) with no entitling subscription linked:
   * their access is not backed by a subscription Hearth knows. Reported, never changed.
   */
  withoutSubscriptionTotal: number;
  withoutSubscription: CustomerWithoutSubscription[];
}

interface Listed {
  snap: SubscriptionSnapshot;
  email: string | null;
  tier: string;
  created: number;
}

/**
 * The forms an address may be stored in: lower case, NFC, and the domain as Unicode and as
 * punycode (an import may keep either canonical form; both are looked up).
 */
export function emailCandidates(raw: string): string[] {
  const email = normaliseEmail(raw).normalize('NFC');
  const at = email.lastIndexOf('@');
  if (at <= 0) return [email];
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  const forms = [domain, domainToASCII(domain), domainToUnicode(domain)].filter((d) => d !== '');
  return [...new Set(forms.map((d) => `${local}@${d.toLowerCase()}`))];
}

/** Lists the entitling subscriptions on the tiers' prices; any Stripe failure is an UnavailableError. */
async function listTierSubscriptions(stripe: Stripe, prices: Map<string, string>): Promise<Listed[]> {
  const found = new Map<string, Listed>();
  try {
    for (const [price, tier] of prices) {
      // No status filter: Stripe then lists every subscription not canceled, one listing per price
      // instead of one per status; the entitling ones are kept here.
      for await (const sub of stripe.subscriptions.list({ price, limit: 100, expand: ['data.customer'] })) {
        if (!(ADOPTED_STATUSES as readonly string[]).includes(sub.status) || found.has(sub.id)) continue;
        const customer = sub.customer;
        const email = typeof customer === 'object' && !('deleted' in customer && customer.deleted) ? (customer.email ?? null) : null;
        // The price listed is the tier's, whatever the order of the subscription's items.
        found.set(sub.id, { snap: { ...snapshotOf(sub), priceId: price }, email, tier, created: sub.created });
      }
    }
  } catch (err) {
    if (!isStripeError(err)) throw err;
    throw new UnavailableError(`Stripe could not be reached (${err.message}); no member was changed.`, 'stripe_unreachable');
  }
  // Oldest first: when two customers share an address, the older subscription is linked.
  return [...found.values()].sort((a, b) => a.created - b.created || (a.snap.id < b.snap.id ? -1 : 1));
}

/** Lists, matches and links (see the top of this file); returns what it did. */
export async function adoptSubscriptions(db: Kysely<Database>, stripe: Stripe, ctx: SiteLinks): Promise<AdoptionReport> {
  const tiers = await db
    .selectFrom('tiers')
    .select(['slug', 'stripe_monthly_price_id', 'stripe_yearly_price_id'])
    .where('paid', '=', true)
    .orderBy('id')
    .execute();
  const prices = new Map<string, string>();
  for (const t of tiers) {
    if (t.stripe_monthly_price_id) prices.set(t.stripe_monthly_price_id, t.slug);
    if (t.stripe_yearly_price_id) prices.set(t.stripe_yearly_price_id, t.slug);
  }
  if (prices.size === 0) {
    throw new ValidationError(
      'No paid tier has a Stripe price yet: attach the prices your members pay (Tiers → Attach) and run this again.',
      'no_prices',
    );
  }
  const listed = await listTierSubscriptions(stripe, prices);

  return db.transaction().execute(async (trx) => {
    // One adoption at a time (the CLI and the worker may both run one).
    await sql`select pg_advisory_xact_lock(hashtext('hearth:stripe-sync'))`.execute(trx);
    const customers = [...new Set(listed.map((l) => l.snap.customer))];
    const byCustomer = new Map<string, string>();
    for (let i = 0; i < customers.length; i += 5_000) {
      const rows = await trx
        .selectFrom('members')
        .select(['id', 'stripe_customer_id'])
        .where('stripe_customer_id', 'in', customers.slice(i, i + 5_000))
        .execute();
      for (const r of rows) byCustomer.set(r.stripe_customer_id!, r.id);
    }
    const emails = [
      ...new Set(listed.filter((l) => !byCustomer.has(l.snap.customer) && l.email).flatMap((l) => emailCandidates(l.email!))),
    ];
    const byEmail = new Map<string, { id: string; customer: string | null }>();
    for (let i = 0; i < emails.length; i += 5_000) {
      // lower(email) is what members_email_key indexes.
      const rows = await trx
        .selectFrom('members')
        .select(['id', 'email', 'stripe_customer_id'])
        .where(sql<string>`lower(email)`, 'in', emails.slice(i, i + 5_000))
        .execute();
      for (const r of rows) byEmail.set(r.email.toLowerCase(), { id: r.id, customer: r.stripe_customer_id });
    }

    const report: AdoptionReport = {
      prices: [...prices.keys()],
      subscriptions: listed.length,
      linked: 0,
      unchanged: 0,
      byEmail: 0,
      unmatchedTotal: 0,
      unmatched: [],
      withoutSubscriptionTotal: 0,
      withoutSubscription: [],
    };
    const unmatched = (l: Listed, reason: UnmatchedReason) => {
      report.unmatchedTotal += 1;
      if (report.unmatched.length < REPORT_LIST_LIMIT) {
        report.unmatched.push({
          subscription: l.snap.id,
          customer: l.snap.customer,
          email: l.email,
          status: l.snap.status,
          price: l.snap.priceId!,
          tier: l.tier,
          reason,
        });
      }
    };
    for (const l of listed) {
      let memberId = byCustomer.get(l.snap.customer);
      if (!memberId && l.email) {
        const member = emailCandidates(l.email)
          .map((e) => byEmail.get(e))
          .find((m) => m !== undefined);
        if (member && member.customer !== null && member.customer !== l.snap.customer) {
          unmatched(l, 'member_has_other_customer');
          continue;
        }
        if (member) {
          memberId = member.id;
          // This member now answers to this customer (for a second subscription of the same customer too).
          member.customer = l.snap.customer;
          byCustomer.set(l.snap.customer, member.id);
          report.byEmail += 1;
        }
      }
      if (!memberId) {
        unmatched(l, 'no_member');
        continue;
      }
      await trx.selectFrom('members').select('id').where('id', '=', memberId).forUpdate().execute();
      const changed = await applySubscription(trx, ctx, memberId, l.snap, { announce: false });
      if (changed) report.linked += 1;
      else report.unchanged += 1;
    }

    // Members who have a Stripe customer but none of the subscriptions listed (a payer whose
    // subscription ended, or one on a price no tier has), and members imported as paying through
    // Stripe that no entitling subscription backs (their access would never end by itself).
    const listedCustomers = customers.length > 0 ? customers : [''];
    const without = await trx
      .selectFrom('members as m')
      .select(['m.id', 'm.email', 'm.stripe_customer_id'])
      .where((eb) =>
        eb.or([
          eb.and([eb('m.stripe_customer_id', 'is not', null), sql<boolean>`not (m.stripe_customer_id = any(${listedCustomers}::text[]))`]),
          eb.and([
            eb('m.tier_source', '=', 'stripe'),
            eb.not(
              eb.exists(
                eb
                  .selectFrom('subscriptions as s')
                  .select('s.member_id')
                  .whereRef('s.member_id', '=', 'm.id')
                  .where('s.status', 'in', [...ADOPTED_STATUSES]),
              ),
            ),
          ]),
        ]),
      )
      .orderBy('m.id')
      .execute();
    report.withoutSubscriptionTotal = without.length;
    report.withoutSubscription = without
      .slice(0, REPORT_LIST_LIMIT)
      .map((m) => ({ memberId: m.id, email: m.email, customer: m.stripe_customer_id }));
    return report;
  });
}

// ── Runs: the admin's button queues one (no request waits on Stripe); the CLI runs one directly.

/** A run queued or running for longer than this was interrupted (its worker died); it is run again. */
export const SYNC_STALE_MINUTES = 15;
const SYNC_MAX_ATTEMPTS = 3;

export interface StripeSync {
  id: string;
  status: StripeSyncStatus;
  via: 'admin' | 'cli' | 'api';
  subscriptions: number;
  linked: number;
  unchanged: number;
  unmatched: number;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  report: AdoptionReport | null;
}

function toSync(row: {
  id: string;
  status: StripeSyncStatus;
  via: 'admin' | 'cli' | 'api';
  subscriptions: number;
  linked: number;
  unchanged: number;
  unmatched: number;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  report: Record<string, unknown>;
}): StripeSync {
  return {
    id: row.id,
    status: row.status,
    via: row.via,
    subscriptions: row.subscriptions,
    linked: row.linked,
    unchanged: row.unchanged,
    unmatched: row.unmatched,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    report: row.status === 'done' ? (row.report as unknown as AdoptionReport) : null,
  };
}

const SYNC_COLUMNS = [
  'id',
  'status',
  'via',
  'subscriptions',
  'linked',
  'unchanged',
  'unmatched',
  'error',
  'created_at',
  'started_at',
  'finished_at',
  'report',
] as const;

export async function getStripeSync(db: Kysely<Database>, id: string): Promise<StripeSync | undefined> {
  const row = await db.selectFrom('stripe_syncs').select(SYNC_COLUMNS).where('id', '=', id).executeTakeFirst();
  return row && toSync(row);
}

export async function listStripeSyncs(db: Kysely<Database>, limit = 10): Promise<StripeSync[]> {
  const rows = await db.selectFrom('stripe_syncs').select(SYNC_COLUMNS).orderBy('id', 'desc').limit(limit).execute();
  return rows.map(toSync);
}

/**
 * Asks for an adoption run: queued for the worker, in the same transaction as its row. A run
 * already queued or running (and not stale) is returned instead of a second one.
 */
export async function requestStripeSync(
  db: Kysely<Database>,
  stripe: Stripe | undefined,
  by: { via: 'admin' | 'api'; staffUserId: string | null },
): Promise<StripeSync> {
  if (!stripe) throw new PaymentsNotConfigured();
  // Read back inside the transaction: once it commits the worker may claim the run at once, and
  // the answer describes the run as this request left it (a new one is "queued").
  return db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('hearth:stripe-sync-request'))`.execute(trx);
    const open = await trx
      .selectFrom('stripe_syncs')
      .select('id')
      .where('status', 'in', ['queued', 'running'])
      .where(sql<Date>`coalesce(started_at, created_at)`, '>', dbNow({ minutes: -SYNC_STALE_MINUTES }))
      .executeTakeFirst();
    if (open) return (await getStripeSync(trx, open.id))!;
    const row = await trx
      .insertInto('stripe_syncs')
      .values({ via: by.via, requested_by: by.staffUserId })
      .returning('id')
      .executeTakeFirstOrThrow();
    await enqueue(trx, 'stripe_sync', { syncId: row.id }, { jobKey: `stripe-sync-${row.id}`, maxAttempts: SYNC_MAX_ATTEMPTS });
    return (await getStripeSync(trx, row.id))!;
  });
}

/** A run made by the CLI: recorded like the others, so the admin shows it too. */
export async function createCliStripeSync(db: Kysely<Database>): Promise<string> {
  const row = await db.insertInto('stripe_syncs').values({ via: 'cli' }).returning('id').executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Runs one adoption (the `stripe_sync` job, or the CLI). A Stripe that cannot be reached, or a
 * site with no priced tier, fails the run with its reason and changes no member; any other error
 * (the database) is thrown so the job is retried. A run already finished is not run again.
 */
export async function runStripeSync(db: Kysely<Database>, stripe: Stripe | undefined, ctx: SiteLinks, syncId: string): Promise<StripeSync> {
  const claimed = await db
    .updateTable('stripe_syncs')
    .set({ status: 'running', started_at: dbNow(), attempts: sql<number>`attempts + 1` })
    .where('id', '=', syncId)
    .where('status', 'in', ['queued', 'running'])
    .returning('id')
    .executeTakeFirst();
  if (claimed) {
    try {
      if (!stripe) throw new PaymentsNotConfigured();
      const report = await adoptSubscriptions(db, stripe, ctx);
      await db
        .updateTable('stripe_syncs')
        .set({
          status: 'done',
          subscriptions: report.subscriptions,
          linked: report.linked,
          unchanged: report.unchanged,
          unmatched: report.unmatchedTotal,
          report: JSON.stringify(report),
          error: null,
          finished_at: dbNow(),
        })
        .where('id', '=', syncId)
        .execute();
      log.info('stripe subscriptions adopted', { sync: syncId, linked: report.linked, unmatched: report.unmatchedTotal });
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      log.warn('stripe sync failed', { sync: syncId, code: err.code, reason: err.message });
      await db
        .updateTable('stripe_syncs')
        .set({ status: 'failed', error: err.message, finished_at: dbNow() })
        .where('id', '=', syncId)
        .execute();
    }
  }
  return (await getStripeSync(db, syncId))!;
}

/**
 * The watchdog (the worker's maintenance): a run whose worker died mid-way is queued again (the
 * run is idempotent and writes in one transaction, so running it twice is harmless), up to its
 * attempts; after that it is marked failed, so no run stays "running" forever.
 */
export async function resumeStaleStripeSyncs(db: Kysely<Database>): Promise<number> {
  const stale = await db
    .selectFrom('stripe_syncs')
    .select(['id', 'attempts'])
    .where('status', 'in', ['queued', 'running'])
    .where(sql<Date>`coalesce(started_at, created_at)`, '<', dbNow({ minutes: -SYNC_STALE_MINUTES }))
    .execute();
  for (const s of stale) {
    if (s.attempts >= SYNC_MAX_ATTEMPTS) {
      await db
        .updateTable('stripe_syncs')
        .set({ status: 'failed', error: 'The run was interrupted several times; start it again.', finished_at: dbNow() })
        .where('id', '=', s.id)
        .execute();
    } else {
      // Same job key: replaces a job still waiting; beside one locked by a dead worker, adds a new one.
      await enqueue(db, 'stripe_sync', { syncId: s.id }, { jobKey: `stripe-sync-${s.id}`, maxAttempts: SYNC_MAX_ATTEMPTS });
    }
  }
  return stale.length;
}
