import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { COLD_DAYS } from '../stats/definitions.ts';
import type { TriggerType } from './definitions.ts';
import { enqueueAutomationLanes } from './jobs.ts';

/**
 * Members entering automations, called where the facts happen and in their transaction: a
 * confirmation (members/subscribe.ts), a referral milestone (referrals/milestones.ts), a billing
 * change (billing, through noteTierBefore), a member going cold (the watchdog, from the stats
 * rollups). A label added is the exception: it enters through a trigger on member_labels
 * (migration 0060), since labels are added by many paths (API, admin, bulk actions, imports, the
 * automations' own label steps); those paths only wake the lanes (wakeForLabels).
 *
 * One set-based statement per fact: every live (or paused) automation with that trigger whose
 * filters match takes the member in at its first step, due now. Only active members enter.
 *
 * Re-entry: none. A member enters a given automation at most once, ever (automation_members'
 * primary key): a reader who unsubscribes and subscribes again does not get the welcome sequence
 * twice, a label removed and added again does not restart its automation, and an email step's
 * key (automation-<id>-step-<n>-member-<m>) stays the one key of that email for good.
 */
interface EntryFacts {
  /** label_added: the label's id. */
  labelId?: string;
  /** referral_milestone: the threshold reached. */
  threshold?: number;
  /** paid_ended: the paid tier left. */
  tierBefore?: string;
}

const list = (key: string) => sql`array(select jsonb_array_elements_text(a.trigger -> ${key}))`;

/** The trigger's filters, on members `m` and automations `a`, as SQL. */
function filters(type: TriggerType, facts: EntryFacts): RawBuilder<boolean> {
  switch (type) {
    case 'subscription_confirmed':
      return sql<boolean>`(not (a.trigger ? 'platforms') or m.source_platform = any(${list('platforms')}))
        and (not (a.trigger ? 'landing_pages') or m.landing_page = any(${list('landing_pages')}))
        and (not (a.trigger ? 'utm_campaigns') or m.utm_campaign = any(${list('utm_campaigns')}))
        and (not (a.trigger ? 'newsletters') or exists (
              select 1 from member_newsletters mn join newsletters n on n.id = mn.newsletter_id
               where mn.member_id = m.id and n.slug = any(${list('newsletters')})))`;
    case 'became_paid':
      return sql<boolean>`exists (select 1 from tiers t where t.id = m.tier_id and t.paid
        and (not (a.trigger ? 'tiers') or t.slug = any(${list('tiers')})))`;
    case 'paid_ended':
      return sql<boolean>`exists (select 1 from tiers t where t.id = ${facts.tierBefore ?? '0'} and t.paid
        and (not (a.trigger ? 'tiers') or t.slug = any(${list('tiers')})))`;
    case 'label_added':
      return sql<boolean>`exists (select 1 from labels l where l.id = ${facts.labelId ?? '0'} and lower(l.name) = lower(a.trigger ->> 'label'))`;
    case 'referral_milestone':
      return sql<boolean>`(not (a.trigger ? 'thresholds') or ${facts.threshold ?? -1}::int = any(array(select jsonb_array_elements_text(a.trigger -> 'thresholds')::int)))`;
    case 'went_cold':
      return sql<boolean>`true`;
  }
}

/** Members (by id) enter the automations that listen for `type`; returns how many entries. */
export async function enterAutomations(
  db: Kysely<Database>,
  type: TriggerType,
  memberIds: readonly string[],
  facts: EntryFacts = {},
): Promise<number> {
  if (memberIds.length === 0) return 0;
  return enterWhere(db, type, sql`m.id = any(${sql.val(memberIds)}::bigint[])`, facts);
}

async function enterWhere(db: Kysely<Database>, type: TriggerType, members: RawBuilder<unknown>, facts: EntryFacts): Promise<number> {
  // Most sites have no automation for most facts: one probe of automations_live_idx, then nothing.
  const listening = await db
    .selectFrom('automations')
    .select('id')
    .where('trigger_type', '=', type)
    .where('status', 'in', ['live', 'paused'])
    .limit(1)
    .executeTakeFirst();
  if (!listening) return 0;
  // One statement: the entries and their first step's counter.
  const result = await sql<{ n: number }>`
    with ins as (
      insert into automation_members (automation_id, member_id, step_id, due_at)
      select a.id, m.id, s.id, now()
        from automations a
        join automation_steps s on s.automation_id = a.id and s.position = 1
        join members m on ${members}
       where a.trigger_type = ${type} and a.status in ('live', 'paused') and m.status = 'active'
         and ${filters(type, facts)}
      on conflict do nothing
      returning step_id
    ),
    counted as (
      update automation_steps s set entered = s.entered + c.n
        from (select step_id, count(*)::int as n from ins group by step_id) c
       where s.id = c.step_id
    )
    select count(*)::int as n from ins
  `.execute(db);
  const entered = result.rows[0]?.n ?? 0;
  if (entered > 0) await enqueueAutomationLanes(db);
  return entered;
}

/**
 * After labels were added (the trigger of migration 0060 has already entered the members): the
 * lanes are started now rather than by the next watchdog minute, when a label automation listens.
 */
export async function wakeForLabels(db: Kysely<Database>): Promise<void> {
  const listening = await db
    .selectFrom('automations')
    .select('id')
    .where('trigger_type', '=', 'label_added')
    .where('status', '=', 'live')
    .limit(1)
    .executeTakeFirst();
  if (listening) await enqueueAutomationLanes(db);
}

/**
 * Called by billing before it changes a member's tier (one line there): the tier before is noted
 * in the same transaction, and the engine compares it with the tier after (watchTiers).
 */
export async function noteTierBefore(db: Kysely<Database>, memberId: string, tierBefore: string): Promise<void> {
  const listening = await db
    .selectFrom('automations')
    .select('id')
    .where('trigger_type', 'in', ['became_paid', 'paid_ended'])
    .where('status', 'in', ['live', 'paused'])
    .limit(1)
    .executeTakeFirst();
  if (!listening) return;
  await db.insertInto('automation_tier_watch').values({ member_id: memberId, tier_before: tierBefore }).execute();
  await enqueueAutomationLanes(db);
}

/** Noted billing changes, now committed: free → paid enters became_paid, paid → free paid_ended. */
export async function watchTiers(db: Kysely<Database>): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const watched = await sql<{ member_id: string; tier_before: string; before_paid: boolean; now_paid: boolean }>`
      delete from automation_tier_watch w
       using members m, tiers tb, tiers tn
       where w.id in (select id from automation_tier_watch order by id limit 500 for update skip locked)
         and m.id = w.member_id and tb.id = w.tier_before and tn.id = m.tier_id
      returning w.member_id, w.tier_before, tb.paid as before_paid, tn.paid as now_paid
    `.execute(trx);
    let entered = 0;
    for (const w of watched.rows) {
      if (!w.before_paid && w.now_paid) entered += await enterAutomations(trx, 'became_paid', [w.member_id]);
      if (w.before_paid && !w.now_paid) entered += await enterAutomations(trx, 'paid_ended', [w.member_id], { tierBefore: w.tier_before });
    }
    return entered;
  });
}

/**
 * Members who went cold by the stats rule (no human engagement in COLD_DAYS days, and members for
 * longer than that) enter the went_cold automations. Set-based, from the stats rollups.
 */
export async function enterColdMembers(db: Kysely<Database>): Promise<number> {
  return enterWhere(
    db,
    'went_cold',
    sql`m.confirmed_at < now() - make_interval(days => ${COLD_DAYS})
      and not exists (select 1 from stats_members sm where sm.member_id = m.id and sm.last_engaged_at >= now() - make_interval(days => ${COLD_DAYS}))`,
    {},
  );
}

/**
 * A suppressed address (a hard bounce, a complaint, staff) leaves every automation at once. A
 * status change does the same through the members trigger (migration 0035); a suppression does
 * not change the status, so it calls this.
 */
export async function leaveAutomationsByEmail(db: Kysely<Database>, email: string): Promise<void> {
  await sql`
    update automation_members am set status = 'left', reason = 'suppressed', finished_at = now()
     where am.status = 'active' and am.member_id in (select id from members where lower(email) = lower(${email}))
  `.execute(db);
}
