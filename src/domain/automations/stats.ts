import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError } from '../../lib/errors.ts';
import type { Step } from './definitions.ts';

/**
 * An automation's figures, per automation and per step. Opens and clicks are human only (machine
 * opens and scanner clicks are flagged by tracking and left out) and unique per member; they are
 * read from engagement_events by the emails' tracking ids (automation_emails), one index probe
 * per rendering (engagement_events_send_idx). Conversion is a paid subscription started within
 * 30 days of entering; retention compares a welcome sequence's members with those who joined in
 * the 180 days before it went live.
 */
export interface StepStats {
  id: string;
  position: number | null;
  type: Step['type'];
  entered: number;
  emailed: number;
  human_opens: number;
  human_clicks: number;
  unsubscribed: number;
  exited: number;
}

export interface Retention {
  members: number;
  retained: number;
  rate: number | null;
}

export interface AutomationStats {
  entered: number;
  active: number;
  done: number;
  emailed: number;
  human_opens: number;
  human_clicks: number;
  unsubscribed: number;
  exited: number;
  converted_to_paid_30d: number;
  conversion_rate: number | null;
  retention_30d: { with_sequence: Retention; before_sequence: Retention } | null;
  steps: StepStats[];
}

const rate = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 1000 : null);

export async function automationStats(db: Kysely<Database>, automationId: string): Promise<AutomationStats> {
  if (!/^\d{1,18}$/.test(automationId)) throw new NotFoundError('There is no such automation.', 'not_found');
  const automation = await db
    .selectFrom('automations')
    .select(['id', 'trigger_type', 'live_since'])
    .where('id', '=', automationId)
    .executeTakeFirst();
  if (!automation) throw new NotFoundError('There is no such automation.', 'not_found');
  const steps = await sql<{
    id: string;
    position: number | null;
    definition: Step;
    entered: number;
    exited: number;
    emailed: number;
    human_opens: number;
    human_clicks: number;
    unsubscribed: number;
  }>`
    select s.id, s.position, s.definition, s.entered, s.exited,
      (select count(*) from automation_deliveries d where d.step_id = s.id and d.status = 'posted')::int as emailed,
      (select count(distinct e.member_id) from engagement_events e
        where e.send_id in (select id from automation_emails where step_id = s.id) and e.kind = 'open' and not e.machine)::int as human_opens,
      (select count(distinct e.member_id) from engagement_events e
        where e.send_id in (select id from automation_emails where step_id = s.id) and e.kind = 'click' and not e.machine)::int as human_clicks,
      (select count(*) from automation_members am
        where am.step_id = s.id and ((am.status = 'left' and am.reason = 'unsubscribed') or (am.status = 'exited' and am.reason = 'sunset')))::int as unsubscribed
    from automation_steps s
    where s.automation_id = ${automationId} and (s.position is not null or s.entered > 0)
    order by s.position nulls last, s.id
  `.execute(db);
  const totals = await sql<{
    entered: number;
    active: number;
    done: number;
    exited: number;
    converted: number;
    clicks: number;
    opens: number;
  }>`
    select count(*)::int as entered,
      count(*) filter (where am.status = 'active')::int as active,
      count(*) filter (where am.status = 'done')::int as done,
      count(*) filter (where am.status = 'exited' and am.reason = 'condition')::int as exited,
      count(*) filter (where exists (select 1 from events e where e.member_id = am.member_id and e.type = 'subscription_started'
                                       and e.occurred_at >= am.entered_at and e.occurred_at < am.entered_at + interval '30 days'))::int as converted,
      (select count(distinct e.member_id) from engagement_events e
        where e.send_id in (select ae.id from automation_emails ae join automation_steps s on s.id = ae.step_id where s.automation_id = ${automationId})
          and e.kind = 'click' and not e.machine)::int as clicks,
      (select count(distinct e.member_id) from engagement_events e
        where e.send_id in (select ae.id from automation_emails ae join automation_steps s on s.id = ae.step_id where s.automation_id = ${automationId})
          and e.kind = 'open' and not e.machine)::int as opens
    from automation_members am where am.automation_id = ${automationId}
  `.execute(db);
  const t = totals.rows[0]!;
  let retention: AutomationStats['retention_30d'] = null;
  if (automation.trigger_type === 'subscription_confirmed' && automation.live_since) {
    // Retained: still subscribed 30 days after confirming. Only members confirmed 30+ days ago count.
    const r = await sql<{ w_n: number; w_kept: number; b_n: number; b_kept: number }>`
      with measured as (
        select m.id, (m.unsubscribed_at is null or m.unsubscribed_at > m.confirmed_at + interval '30 days') as kept,
               exists (select 1 from automation_members am where am.automation_id = ${automationId} and am.member_id = m.id) as entered
          from members m
         where m.confirmed_at is not null and m.confirmed_at <= now() - interval '30 days'
           and m.confirmed_at >= ${automation.live_since}::timestamptz - interval '180 days'
      )
      select count(*) filter (where entered)::int as w_n, count(*) filter (where entered and kept)::int as w_kept,
             count(*) filter (where not entered and id in (select id from members where confirmed_at < ${automation.live_since}))::int as b_n,
             count(*) filter (where not entered and kept and id in (select id from members where confirmed_at < ${automation.live_since}))::int as b_kept
        from measured
    `.execute(db);
    const x = r.rows[0]!;
    retention = {
      with_sequence: { members: x.w_n, retained: x.w_kept, rate: rate(x.w_kept, x.w_n) },
      before_sequence: { members: x.b_n, retained: x.b_kept, rate: rate(x.b_kept, x.b_n) },
    };
  }
  const stepStats: StepStats[] = steps.rows.map((s) => ({
    id: String(s.id),
    position: s.position,
    type: s.definition.type,
    entered: s.entered,
    emailed: s.emailed,
    human_opens: s.human_opens,
    human_clicks: s.human_clicks,
    unsubscribed: s.unsubscribed,
    exited: s.exited,
  }));
  return {
    entered: t.entered,
    active: t.active,
    done: t.done,
    emailed: stepStats.reduce((n, s) => n + s.emailed, 0),
    human_opens: t.opens,
    human_clicks: t.clicks,
    unsubscribed: stepStats.reduce((n, s) => n + s.unsubscribed, 0),
    exited: t.exited,
    converted_to_paid_30d: t.converted,
    conversion_rate: rate(t.converted, t.entered),
    retention_30d: retention,
    steps: stepStats,
  };
}
