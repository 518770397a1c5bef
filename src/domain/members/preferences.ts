import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { emitWebhookEvent } from '../webhooks/events.ts';
import { holdQuickLeaver } from '../referrals/guards.ts';
import { referralSummary } from '../referrals/referrals.ts';
import { recordEvent } from './events.ts';
import { suppress } from './suppression.ts';

/**
 * What a member controls from the link in every email (no sign-in): which newsletters they
 * get, leaving everything (RFC 8058 one-click), a copy of their data, and erasure.
 */
export async function getPreferences(db: Kysely<Database>, memberId: string) {
  const member = await db.selectFrom('members').select(['id', 'email', 'name', 'status']).where('id', '=', memberId).executeTakeFirst();
  if (!member) throw new NotFoundError('This member no longer exists.', 'member_gone');
  const newsletters = await db
    .selectFrom('newsletters as n')
    .leftJoin('member_newsletters as mn', (j) => j.onRef('mn.newsletter_id', '=', 'n.id').on('mn.member_id', '=', memberId))
    .select(['n.id', 'n.slug', 'n.name', 'n.description', 'mn.member_id'])
    // An archived newsletter shows only to its members (to leave it); nobody new can join it.
    .where((eb) => eb.or([eb('n.archived_at', 'is', null), eb('mn.member_id', 'is not', null)]))
    .orderBy('n.sort_order')
    .orderBy('n.id')
    .execute();
  return {
    member,
    newsletters: newsletters.map((n) => ({
      id: n.id,
      slug: n.slug,
      name: n.name,
      description: n.description,
      subscribed: n.member_id !== null && member.status !== 'unsubscribed',
    })),
  };
}

/** Leaves every newsletter at once. Idempotent: a second click changes nothing. */
export async function unsubscribeAll(db: Kysely<Database>, memberId: string, via: 'one-click' | 'preferences' | 'staff'): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('members').select(['id', 'status']).where('id', '=', memberId).forUpdate().executeTakeFirst();
    if (!member) throw new NotFoundError('This member no longer exists.', 'member_gone');
    await trx.deleteFrom('member_newsletters').where('member_id', '=', memberId).execute();
    if (member.status === 'unsubscribed' || member.status === 'bounced' || member.status === 'complained') return;
    await trx
      .updateTable('members')
      .set({ status: 'unsubscribed', unsubscribed_at: new Date(), updated_at: new Date() })
      .where('id', '=', memberId)
      .execute();
    await recordEvent(trx, memberId, 'unsubscribed', { via });
    // A referred friend who leaves this soon does not count for their referrer (held for review).
    await holdQuickLeaver(trx, memberId);
  });
}

/** Sets exactly these newsletters; none at all means unsubscribed. */
export async function updatePreferences(db: Kysely<Database>, memberId: string, newsletterSlugs: string[]): Promise<void> {
  const slugs = [...new Set(newsletterSlugs)];
  if (slugs.length === 0) return unsubscribeAll(db, memberId, 'preferences');
  await db.transaction().execute(async (trx) => {
    const member = await trx
      .selectFrom('members')
      .select(['id', 'status', 'confirmed_at'])
      .where('id', '=', memberId)
      .forUpdate()
      .executeTakeFirst();
    if (!member) throw new NotFoundError('This member no longer exists.', 'member_gone');
    const newsletters = await trx
      .selectFrom('newsletters as n')
      .leftJoin('member_newsletters as mn', (j) => j.onRef('mn.newsletter_id', '=', 'n.id').on('mn.member_id', '=', memberId))
      .select(['n.id', 'n.slug', 'n.name', 'n.archived_at', 'mn.member_id'])
      .where('n.slug', 'in', slugs)
      .execute();
    if (newsletters.length !== slugs.length) throw new ValidationError('One of those newsletters does not exist.', 'unknown_newsletter');
    const closed = newsletters.find((n) => n.archived_at !== null && n.member_id === null);
    if (closed)
      throw new ConflictError(`"${closed.name}" is closed to new subscribers.`, 'newsletter_archived').with({ name: closed.name });
    await trx
      .deleteFrom('member_newsletters')
      .where('member_id', '=', memberId)
      .where(
        'newsletter_id',
        'not in',
        newsletters.map((n) => n.id),
      )
      .execute();
    await trx
      .insertInto('member_newsletters')
      .values(newsletters.map((n) => ({ member_id: memberId, newsletter_id: n.id })))
      .onConflict((oc) => oc.doNothing())
      .execute();
    // The link came by email, which proves the address; a member who had confirmed once and
    // left can come back from here without a second confirmation.
    if (member.status === 'unsubscribed' && member.confirmed_at !== null) {
      await trx
        .updateTable('members')
        .set({ status: 'active', unsubscribed_at: null, updated_at: new Date() })
        .where('id', '=', memberId)
        .execute();
      await recordEvent(trx, memberId, 'resubscribed', { via: 'preferences' });
    }
    await recordEvent(trx, memberId, 'newsletters_changed', { newsletters: newsletters.map((n) => n.slug) });
  });
}

/** Everything Hearth holds about a member, as one JSON-ready object. */
export async function exportMemberData(db: Kysely<Database>, memberId: string) {
  const member = await db.selectFrom('members').selectAll().where('id', '=', memberId).executeTakeFirst();
  if (!member) throw new NotFoundError('This member no longer exists.', 'member_gone');
  const [newsletters, labels, events, tier, referrals] = await Promise.all([
    db
      .selectFrom('member_newsletters as mn')
      .innerJoin('newsletters as n', 'n.id', 'mn.newsletter_id')
      .select(['n.slug', 'n.name', 'mn.created_at'])
      .where('mn.member_id', '=', memberId)
      .execute(),
    db
      .selectFrom('member_labels as ml')
      .innerJoin('labels as l', 'l.id', 'ml.label_id')
      .select(['l.name'])
      .where('ml.member_id', '=', memberId)
      .execute(),
    db
      .selectFrom('events')
      .select(['type', 'occurred_at', 'data'])
      .where('member_id', '=', memberId)
      .orderBy('occurred_at')
      .orderBy('id')
      .execute(),
    db.selectFrom('tiers').select(['slug', 'name']).where('id', '=', member.tier_id).executeTakeFirst(),
    referralSummary(db, memberId),
  ]);
  // What they said and reacted in the conversation (erased comments are gone).
  const comments = await db
    .selectFrom('comments as c')
    .innerJoin('posts as p', 'p.id', 'c.post_id')
    .select(['c.id', 'p.slug as post', 'c.parent_id', 'c.body', 'c.status', 'c.question', 'c.created_at', 'c.edited_at'])
    .where('c.member_id', '=', memberId)
    .where('c.erased', '=', false)
    .orderBy('c.id')
    .execute();
  const reactions = await db
    .selectFrom('reactions as r')
    .innerJoin('posts as p', 'p.id', 'r.post_id')
    .select(['p.slug as post', 'r.comment_id', 'r.kind', 'r.created_at'])
    .where('r.member_id', '=', memberId)
    .orderBy('r.id')
    .execute();
  // Their poll answers (domain/polls).
  const pollAnswers = await db
    .selectFrom('poll_votes as v')
    .innerJoin('polls as p', 'p.id', 'v.poll_id')
    .select(['p.question', 'p.answers', 'v.answer', 'v.created_at', 'v.updated_at'])
    .where('v.member_id', '=', memberId)
    .orderBy('v.created_at')
    .execute();
  await recordEvent(db, memberId, 'data_exported');
  return {
    exported_at: new Date().toISOString(),
    member: {
      email: member.email,
      name: member.name,
      status: member.status,
      tier: tier?.slug ?? null,
      source: {
        platform: member.source_platform,
        utm_source: member.utm_source,
        utm_medium: member.utm_medium,
        utm_campaign: member.utm_campaign,
        referrer: member.referrer,
        ref: member.ref,
        landing_page: member.landing_page,
      },
      referral_code: member.referral_code,
      notes_by_staff: member.notes,
      // Custom field values (README "Custom member fields"), by key.
      fields: member.fields,
      created_at: member.created_at,
      confirmed_at: member.confirmed_at,
      unsubscribed_at: member.unsubscribed_at,
    },
    newsletters: newsletters.map((n) => ({ slug: n.slug, name: n.name, since: n.created_at })),
    labels: labels.map((l) => l.name),
    poll_answers: pollAnswers.map((a) => ({ question: a.question, answer: a.answers[a.answer] ?? null, at: a.updated_at })),
    // The member's own referral figures and rewards; the friends' addresses are theirs, not this member's.
    referrals: {
      counted: referrals.counted,
      pending: referrals.pending,
      held: referrals.held,
      rewards: referrals.rewards.map((r) => ({
        milestone: r.description,
        referrals: r.threshold,
        status: r.status,
        tier: r.tier_name,
        until: r.comp_until,
        banked_days: r.banked_days,
        earned_at: r.created_at,
      })),
    },
    events: events.map((e) => ({ type: e.type, at: e.occurred_at, data: e.data })),
    comments,
    reactions,
  };
}

/**
 * Erases a member: the row and everything keyed to it goes; events stay with their member id
 * set to null
 * (anonymous aggregates survive); a bounced or complained address stays suppressed by hash.
 */
export async function deleteMember(db: Kysely<Database>, memberId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const member = await trx
      .selectFrom('members')
      .select(['id', 'email', 'status'])
      .where('id', '=', memberId)
      .forUpdate()
      .executeTakeFirst();
    if (!member) throw new NotFoundError('This member no longer exists.', 'member_gone');
    if (member.status === 'bounced' || member.status === 'complained') await suppress(trx, member.email, member.status);
    await emitWebhookEvent(trx, 'member.deleted', { id: member.id, email: member.email });
    await trx.updateTable('events').set({ member_id: null }).where('member_id', '=', memberId).execute();
    await trx
      .insertInto('events')
      .values({ member_id: null, type: 'member_deleted', data: JSON.stringify({}) })
      .execute();
    // Sends keep a snapshot of the address; erase it (probing each send's primary key).
    await trx
      .updateTable('deliveries')
      .set({ email: '', name: null })
      .where('member_id', '=', memberId)
      .where('send_id', 'in', trx.selectFrom('sends').select('id'))
      .execute();
    await trx.deleteFrom('members').where('id', '=', memberId).execute();
  });
}
