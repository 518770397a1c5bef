import { setTimeout as sleep } from 'node:timers/promises';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { EmailMessage } from '../../lib/mailer/port.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { recordEvent } from '../members/events.ts';
import { senderFor } from '../newsletters/sender.ts';
import { batchMessages, variantOfCode, VARIANT_CODE, type BatchDelivery, type FixedSend, type RenderedSend } from '../sending/payload.ts';
import { effectiveLanguageSql, languageScope, planOfRendering, renderingLacksPreview, variantSql } from '../sending/languages.ts';
import { postBatch, type BatchSink, type PostedOutcome, type PosterDeps } from '../sending/poster.ts';
import { releaseClaimsOfDeadWorkers } from '../sending/recovery.ts';
import { getSiteSettings } from '../site/settings.ts';
import { ENGAGED_DAYS } from '../stats/definitions.ts';
import { automationsHeld, renderEmailStep } from './automations.ts';
import { branchTarget, durationSeconds, nextWeekdayTime, type Branch, type Step, type Test, type Trigger } from './definitions.ts';

/**
 * The automation engine: a lane's loop (runAutomationLane), run by `automation_lane` jobs.
 *
 * Per turn, a lane does the first of:
 * 1. post an email batch that is due (claimed with a lease, FOR UPDATE SKIP LOCKED), through the
 *    same payload code (sending/payload.ts: design, tracking, List-Unsubscribe) and the same
 *    poster as sends (sending/poster.ts: the shared rate limiter, the mailer port, retries and
 *    backoff); this file is only the batch source: claim, keys, marks;
 * 2. run one step for up to 100 members due at the same step of the same automation, in one
 *    transaction: the members' rows are locked (SKIP LOCKED: lanes take different members), the
 *    step's effect is written (an email step writes its deliveries and a batch), and the members
 *    move on. Commit or nothing: a worker killed mid-step leaves the members where they were;
 *    killed after commit, the step is done and the batch waits in its table;
 * 3. otherwise sleep until the next thing is due, or ask to be run again then.
 *
 * Exactly-once: a delivery's primary key is (step, member), so an email step cannot write a
 * second email for a member; a batch's payload depends only on what was fixed with it, and every
 * attempt posts it under the same key, which the provider deduplicates. A batch of one is posted
 * under `automation-<id>-step-<step>-member-<member>`; a larger one under
 * `automation-<id>-step-<step>-batch-<batch>` (and, should the provider refuse it as a whole,
 * each email under its member key).
 */
export interface AutomationDeps extends PosterDeps {
  db: Kysely<Database>;
  keys: SiteKeys;
  /** MAIL_FROM, for automations whose trigger names no newsletter. */
  mailFrom: string;
}

export type LaneOutcome = { next: 'again' } | { next: 'at'; at: Date } | { next: 'stop' };

const LEASE_SECONDS = 90;
const MEMBERS_PER_TURN = 100;
const MAX_IN_PLACE_WAIT_MS = 5_000;

export async function runAutomationLane(deps: AutomationDeps, options: { runForMs: number }): Promise<LaneOutcome> {
  const deadline = Date.now() + options.runForMs;
  while (Date.now() < deadline) {
    if (await automationsHeld(deps.db)) return { next: 'stop' };
    const batch = await claimBatch(deps.db, deps.owner);
    if (batch) {
      await postAutomationBatch(deps, batch);
      continue;
    }
    if ((await runDueStep(deps)) > 0) continue;
    const until = await nextDue(deps.db);
    if (!until) return { next: 'stop' };
    const waitMs = until.getTime() - Date.now();
    if (waitMs > MAX_IN_PLACE_WAIT_MS || Date.now() + waitMs > deadline) return { next: 'at', at: until };
    await sleep(Math.max(50, waitMs));
  }
  return { next: 'again' };
}

/** When something of a live automation is next due: a member's step or a batch's attempt. */
async function nextDue(db: Kysely<Database>): Promise<Date | null> {
  const row = await sql<{ at: Date | null }>`
    select least(
      (select am.due_at from automation_members am join automations a on a.id = am.automation_id and a.status = 'live'
        where am.status = 'active' order by am.due_at limit 1),
      (select min(case when b.status = 'pending' then b.next_attempt_at else b.lease_until end)
         from automation_batches b join automations a on a.id = b.automation_id and a.status = 'live'
        where b.status in ('pending', 'posting'))
    ) as at
  `.execute(db);
  const at = row.rows[0]?.at;
  return at ? new Date(at) : null;
}

// ---------------------------------------------------------------------------------------------
// Steps

export interface StepRow {
  id: string;
  position: number;
  definition: Step;
}

interface Group {
  automationId: string;
  trigger: Trigger;
  stepId: string;
}

/** Runs the step of the earliest due member, for up to MEMBERS_PER_TURN members at that step. */
export async function runDueStep(deps: AutomationDeps): Promise<number> {
  return deps.db.transaction().execute(async (trx) => {
    const head = await sql<{ automation_id: string; step_id: string }>`
      select am.automation_id, am.step_id from automation_members am
        join automations a on a.id = am.automation_id and a.status = 'live'
       where am.status = 'active' and am.due_at <= now()
       order by am.due_at
       limit 1
       for update of am skip locked
    `.execute(trx);
    const h = head.rows[0];
    if (!h) return 0;
    // Shared lock: an edit (which locks the automation for update) waits for this step to end,
    // and this step sees the steps as they are.
    const automation = await sql<{ trigger: Trigger; status: string }>`
      select trigger, status from automations where id = ${h.automation_id} for share
    `.execute(trx);
    if (automation.rows[0]?.status !== 'live') return 0;
    const members = await sql<{ member_id: string }>`
      select member_id from automation_members
       where automation_id = ${h.automation_id} and step_id = ${h.step_id} and status = 'active' and due_at <= now()
       order by due_at, member_id
       limit ${MEMBERS_PER_TURN}
       for update skip locked
    `.execute(trx);
    const steps = (await trx
      .selectFrom('automation_steps')
      .select(['id', 'position', 'definition'])
      .where('automation_id', '=', h.automation_id)
      .where('position', 'is not', null)
      .orderBy('position')
      .execute()) as unknown as StepRow[];
    const group: Group = { automationId: h.automation_id, trigger: automation.rows[0].trigger, stepId: h.step_id };
    const ids = await dropLeavers(
      trx,
      group,
      members.rows.map((m) => m.member_id),
    );
    if (ids.length === 0) return members.rows.length;
    const index = steps.findIndex((s) => s.id === h.step_id);
    if (index < 0) {
      // The step was removed (an edit moves its members; this is a safety net): on to the end.
      await moveTo(trx, group, ids, null, 'now');
      return ids.length;
    }
    await sql`update automation_steps set entered = entered + ${ids.length} where id = ${h.step_id} and ${index} > 0`.execute(trx);
    await runStep(deps, trx, group, steps, index, ids);
    return ids.length;
  });
}

/** Members no longer reachable (left, suppressed) leave here; returns the rest. */
async function dropLeavers(trx: Transaction<Database>, group: Group, ids: string[]): Promise<string[]> {
  const left = await sql<{ member_id: string }>`
    update automation_members am set status = 'left', finished_at = now(),
           reason = case when m.status = 'active' then 'suppressed' else m.status end
      from members m
     where am.automation_id = ${group.automationId} and am.member_id = any(${sql.val(ids)}::bigint[]) and m.id = am.member_id
       and (m.status <> 'active' or exists (select 1 from suppressions s where s.email_hash = encode(sha256(convert_to(lower(m.email), 'UTF8')), 'hex')))
    returning am.member_id
  `.execute(trx);
  const gone = new Set(left.rows.map((r) => String(r.member_id)));
  return ids.filter((id) => !gone.has(String(id)));
}

/** Members to the step at `index` (null or past the end: done), due at `due`. */
async function moveTo(trx: Transaction<Database>, group: Group, ids: string[], stepId: string | null, due: 'now' | Date): Promise<void> {
  if (ids.length === 0) return;
  await sql`
    update automation_members
       set step_id = ${stepId}, due_at = ${due === 'now' ? sql`now()` : due},
           status = ${stepId === null ? 'done' : 'active'}, finished_at = ${stepId === null ? sql`now()` : null}
     where automation_id = ${group.automationId} and member_id = any(${sql.val(ids)}::bigint[])
  `.execute(trx);
}

async function runStep(deps: AutomationDeps, trx: Transaction<Database>, group: Group, steps: StepRow[], index: number, ids: string[]) {
  const step = steps[index]!.definition;
  const next = steps[index + 1]?.id ?? null;
  switch (step.type) {
    case 'email':
      await writeBatch(deps, trx, group, step, ids);
      return moveTo(trx, group, ids, next, 'now');
    case 'wait': {
      if ('duration' in step) {
        const due = await sql<{ at: Date }>`select now() + make_interval(secs => ${durationSeconds(step.duration) ?? 0}) as at`.execute(
          trx,
        );
        return moveTo(trx, group, ids, next, new Date(due.rows[0]!.at));
      }
      const site = await getSiteSettings(trx);
      return moveTo(trx, group, ids, next, nextWeekdayTime(new Date(), step.until, site.timeZone));
    }
    case 'condition': {
      const passed = new Set(await passing(trx, steps, index, step.if, ids));
      const routes = new Map<string, string[]>();
      for (const id of ids) {
        const branch: Branch = passed.has(String(id)) ? (step.then ?? 'continue') : (step.else ?? 'exit');
        const target = branchTarget(branch, index);
        const key = target === 'exit' ? 'exit' : String(target);
        routes.set(key, [...(routes.get(key) ?? []), id]);
      }
      for (const [key, members] of routes) {
        if (key === 'exit') {
          await sql`
            update automation_members set status = 'exited', step_id = ${steps[index]!.id}, finished_at = now(), reason = 'condition'
             where automation_id = ${group.automationId} and member_id = any(${sql.val(members)}::bigint[])
          `.execute(trx);
          await sql`update automation_steps set exited = exited + ${members.length} where id = ${steps[index]!.id}`.execute(trx);
        } else {
          await moveTo(trx, group, members, steps[Number(key)]?.id ?? null, 'now');
        }
      }
      return;
    }
    case 'label': {
      const name = 'add' in step ? step.add : step.remove;
      await sql`insert into labels (name) values (${name}) on conflict (lower(name)) do nothing`.execute(trx);
      const label = await sql<{ id: string }>`select id from labels where lower(name) = lower(${name})`.execute(trx);
      const labelId = label.rows[0]!.id;
      if ('add' in step) {
        // Members who did not have it enter its label_added automations (migration 0060's trigger).
        await sql`
          insert into member_labels (member_id, label_id) select unnest(${sql.val(ids)}::bigint[]), ${labelId} on conflict do nothing
        `.execute(trx);
      } else {
        await sql`delete from member_labels where label_id = ${labelId} and member_id = any(${sql.val(ids)}::bigint[])`.execute(trx);
      }
      return moveTo(trx, group, ids, next, 'now');
    }
    case 'unsubscribe': {
      // Done here first: the members trigger then takes them out of every other automation.
      await sql`
        update automation_members set status = 'exited', step_id = ${steps[index]!.id}, finished_at = now(), reason = ${step.reason}
         where automation_id = ${group.automationId} and member_id = any(${sql.val(ids)}::bigint[])
      `.execute(trx);
      await sql`delete from member_newsletters where member_id = any(${sql.val(ids)}::bigint[])`.execute(trx);
      const gone = await sql<{ id: string }>`
        update members set status = 'unsubscribed', unsubscribed_at = now(), updated_at = now()
         where id = any(${sql.val(ids)}::bigint[]) and status = 'active' returning id
      `.execute(trx);
      for (const m of gone.rows) await recordEvent(trx, String(m.id), 'unsubscribed', { via: step.reason });
      return;
    }
  }
}

/** The ids of members among `ids` for whom the condition holds, now. */
export async function passing(trx: Kysely<Database>, steps: StepRow[], index: number, test: Test, ids: string[]): Promise<string[]> {
  const members = sql`m.id = any(${sql.val(ids)}::bigint[])`;
  let where;
  if ('engaged' in test) {
    where = sql`exists (select 1 from engagement_events e where e.member_id = m.id and not e.machine and e.kind in ('click', 'read')
                          and e.occurred_at >= now() - make_interval(days => ${ENGAGED_DAYS}))
             or exists (select 1 from stats_members sm where sm.member_id = m.id and sm.last_engaged_at >= now() - make_interval(days => ${ENGAGED_DAYS}))`;
  } else if ('clicked_previous_email' in test) {
    const previous = steps.slice(0, index).findLast((s) => s.definition.type === 'email');
    // Every rendering of that step (an edit makes a new one): its ids are the tracking "send" ids.
    where = sql`exists (select 1 from engagement_events e where e.send_id in (select id from automation_emails where step_id = ${previous?.id ?? '0'})
                          and e.member_id = m.id and e.kind = 'click' and not e.machine)`;
  } else if ('paid' in test) {
    where = sql`exists (select 1 from tiers t where t.id = m.tier_id and t.paid)`;
  } else if ('platforms' in test) {
    where = sql`m.source_platform = any(${sql.val(test.platforms)}::text[])`;
  } else {
    where = sql`exists (select 1 from member_labels ml join labels l on l.id = ml.label_id where ml.member_id = m.id and lower(l.name) = lower(${test.label}))`;
  }
  const rows = await sql<{ id: string }>`select m.id from members m where ${members} and (${where})`.execute(trx);
  return rows.rows.map((r) => String(r.id));
}

/**
 * An email step for these members: their deliveries (one per member and step, ever) and the
 * batch that will post them, with everything the payload needs fixed now: the rendering, the
 * sender, each member's address, name and variant.
 */
async function writeBatch(deps: AutomationDeps, trx: Transaction<Database>, group: Group, step: Step, ids: string[]): Promise<void> {
  const latestEmail = () =>
    trx
      .selectFrom('automation_emails')
      .select('id')
      .where('step_id', '=', group.stepId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirstOrThrow();
  let email = await latestEmail();
  const newsletterIds = group.trigger.newsletters?.length
    ? (await trx.selectFrom('newsletters').select('id').where('slug', 'in', group.trigger.newsletters).execute()).map((n) => n.id)
    : [];
  const sender = await senderFor(trx, { siteUrl: deps.keys.siteUrl, mailFrom: deps.mailFrom }, newsletterIds);
  const site = await getSiteSettings(trx);
  // Which members read a gated post whole, and in which language: as in sending/prepare.ts. The
  // language is stored for everyone (the step was rendered in every language when saved).
  let variant = sql<string>`'f'`;
  let language = sql<string | null>`null`;
  if (step.type === 'email') {
    if ('post_id' in step) {
      const rendered = await trx.selectFrom('automation_emails').select('rendered').where('id', '=', email.id).executeTakeFirstOrThrow();
      let plan = await planOfRendering(trx, rendered.rendered as unknown as RenderedSend, site.language, step.post_id);
      // The post was gated after the step was rendered (no preview to give): render it again
      // from the post as it is now, so nobody who may not read it whole gets it whole.
      if (renderingLacksPreview(rendered.rendered as unknown as RenderedSend, plan)) {
        await renderEmailStep(trx, deps.keys.siteUrl, group.stepId, step);
        email = await latestEmail();
        const again = await trx.selectFrom('automation_emails').select('rendered').where('id', '=', email.id).executeTakeFirstOrThrow();
        plan = await planOfRendering(trx, again.rendered as unknown as RenderedSend, site.language, step.post_id);
      }
      variant = await variantSql(trx, plan, VARIANT_CODE);
    }
    language = effectiveLanguageSql(languageScope(site.language));
  }
  const batch = await trx
    .insertInto('automation_batches')
    .values({
      automation_id: group.automationId,
      step_id: group.stepId,
      email_id: email.id,
      from_address: sender.from,
      reply_to: sender.replyTo,
      track_members: site.trackPerMember,
      size: 0,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const inserted = await sql<{ n: number }>`
    with ins as (
      insert into automation_deliveries (step_id, member_id, automation_id, batch_id, email_id, email, name, referral_code, variant, language)
      select ${group.stepId}, m.id, ${group.automationId}, ${batch.id}, ${email.id}, m.email, m.name, m.referral_code, (${variant})::"char", ${language}
        from members m where m.id = any(${sql.val(ids)}::bigint[])
      on conflict (step_id, member_id) do nothing
      returning 1
    )
    select count(*)::int as n from ins
  `.execute(trx);
  const n = inserted.rows[0]?.n ?? 0;
  if (n === 0) await trx.deleteFrom('automation_batches').where('id', '=', batch.id).execute();
  else await trx.updateTable('automation_batches').set({ size: n }).where('id', '=', batch.id).execute();
}

// ---------------------------------------------------------------------------------------------
// Batches

interface ClaimedBatch {
  id: string;
  automationId: string;
  stepId: string;
  emailId: string;
  attempts: number;
  fixed: FixedSend;
  deliveries: BatchDelivery[];
}

const emailCache = new Map<string, { rendered: RenderedSend; links: string[] }>();

async function claimBatch(db: Kysely<Database>, owner: string): Promise<ClaimedBatch | null> {
  // The partial index holds only open batches; SKIP LOCKED lets other lanes take the next one.
  const claimed = await sql<{
    id: string;
    automation_id: string;
    step_id: string;
    email_id: string;
    attempts: number;
    from_address: string;
    reply_to: string;
    track_members: boolean;
  }>`
    update automation_batches b
       set status = 'posting', attempts = b.attempts + 1, lease_until = now() + make_interval(secs => ${LEASE_SECONDS}), claimed_by = ${owner}
     where b.id = (
             select o.id from automation_batches o
               join automations a on a.id = o.automation_id and a.status = 'live'
              where o.status in ('pending', 'posting')
                and ((o.status = 'pending' and o.next_attempt_at <= now()) or (o.status = 'posting' and o.lease_until < now()))
              order by o.next_attempt_at, o.id
              limit 1
              for update of o skip locked)
    returning b.id, b.automation_id, b.step_id, b.email_id, b.attempts, b.from_address, b.reply_to, b.track_members
  `.execute(db);
  const row = claimed.rows[0];
  if (!row) return null;
  if (row.attempts === 1) {
    // Before the first post only: members who left since the step ran are skipped, and the skip is
    // written down, so every later attempt posts the same emails.
    await sql`
      update automation_deliveries d set status = 'skipped'
       where d.batch_id = ${row.id} and d.status = 'queued'
         and (not exists (select 1 from members m where m.id = d.member_id and m.status = 'active')
              or exists (select 1 from suppressions s where s.email_hash = encode(sha256(convert_to(lower(d.email), 'UTF8')), 'hex')))
    `.execute(db);
  }
  const deliveries = await db
    .selectFrom('automation_deliveries')
    .select(['member_id', 'email', 'name', 'referral_code', 'variant', 'language'])
    .where('batch_id', '=', row.id)
    .where('status', '<>', 'skipped')
    .orderBy('member_id')
    .execute();
  let email = emailCache.get(row.email_id);
  if (!email) {
    const e = await db
      .selectFrom('automation_emails')
      .select(['rendered', 'links'])
      .where('id', '=', row.email_id)
      .executeTakeFirstOrThrow();
    email = { rendered: e.rendered as unknown as RenderedSend, links: e.links };
    if (emailCache.size > 500) emailCache.clear();
    emailCache.set(row.email_id, email);
  }
  return {
    id: row.id,
    automationId: row.automation_id,
    stepId: row.step_id,
    emailId: row.email_id,
    attempts: row.attempts,
    fixed: {
      id: row.email_id,
      from: row.from_address,
      replyTo: row.reply_to,
      rendered: email.rendered,
      links: email.links,
      trackMembers: row.track_members,
    },
    deliveries: deliveries.map((d) => ({
      memberId: String(d.member_id),
      email: d.email,
      name: d.name,
      referralCode: d.referral_code,
      variant: variantOfCode(d.variant),
      language: d.language,
    })),
  };
}

export const memberKey = (automationId: string, stepId: string, memberId: string) =>
  `automation-${automationId}-step-${stepId}-member-${memberId}`;
export const batchKey = (automationId: string, stepId: string, batchId: string) =>
  `automation-${automationId}-step-${stepId}-batch-${batchId}`;

/** The automation's tag replaces the send's: the Resend webhook handler then finds no send to count. */
function automationMessages(batch: ClaimedBatch, keys: SiteKeys): EmailMessage[] {
  return batchMessages(batch.fixed, batch.deliveries, keys).map((m, i) => ({
    ...m,
    tags: [
      { name: 'hearth_automation', value: batch.automationId },
      { name: 'hearth_member', value: batch.deliveries[i]!.memberId },
    ],
  }));
}

/** The automation's side of the shared poster (sending/poster.ts): its batch table, its keys. */
function postAutomationBatch(deps: AutomationDeps, batch: ClaimedBatch): Promise<void> {
  const sink: BatchSink<ClaimedBatch> = {
    markPosted: (b, outcome) => markPosted(deps.db, b, outcome),
    stillRunning: (b) => stillLive(deps, b),
    retryLater: (b, _owner, error, delay, counts) => retryLater(deps, b, error, delay, counts),
    giveUp: (b, _owner, error) => giveUp(deps, b, error),
  };
  return postBatch(
    deps,
    sink,
    batch,
    {
      attempts: batch.attempts,
      key: batchKey(batch.automationId, batch.stepId, batch.id),
      memberKey: (i) => memberKey(batch.automationId, batch.stepId, batch.deliveries[i]!.memberId),
      // A batch of one is that member's email, under its member key.
      soloAsEmail: true,
      log: { message: 'automation batch failed', fields: { automation: batch.automationId, batch: batch.id } },
    },
    batch.deliveries.length === 0 ? [] : automationMessages(batch, deps.keys),
  );
}

/** Paused or held while this lane waited for its slot: the batch is handed back unposted. */
async function stillLive(deps: AutomationDeps, batch: ClaimedBatch): Promise<boolean> {
  const row = await deps.db.selectFrom('automations').select('status').where('id', '=', batch.automationId).executeTakeFirst();
  if (row?.status === 'live' && !(await automationsHeld(deps.db))) return true;
  await retryLater(deps, batch, 'held', 0, false);
  return false;
}

/** Given up: the batch stays failed (visible in the stats); its deliveries stay queued. */
async function giveUp(deps: AutomationDeps, batch: ClaimedBatch, reason: string): Promise<void> {
  await deps.db
    .updateTable('automation_batches')
    .set({ status: 'failed', lease_until: null, error: reason.slice(0, 500) })
    .where('id', '=', batch.id)
    .where('status', '=', 'posting')
    .where('claimed_by', '=', deps.owner)
    .execute();
}

async function retryLater(
  deps: AutomationDeps,
  batch: ClaimedBatch,
  error: string,
  delaySeconds: number,
  countsAsAttempt: boolean,
): Promise<void> {
  await sql`
    update automation_batches
       set status = 'pending', lease_until = null, error = ${error.slice(0, 500)},
           next_attempt_at = now() + make_interval(secs => ${delaySeconds}),
           attempts = attempts - ${countsAsAttempt ? 0 : 1}
     where id = ${batch.id} and status = 'posting' and claimed_by = ${deps.owner}
  `.execute(deps.db);
}

async function markPosted(db: Kysely<Database>, batch: ClaimedBatch, { ids, rejected }: PostedOutcome): Promise<void> {
  const rejectedAt = new Map(rejected.map((r) => [r.index, r.message]));
  const rows = batch.deliveries.map((d, i) => ({
    member_id: d.memberId,
    provider_id: ids[i] ?? null,
    status: rejectedAt.has(i) ? 'rejected' : 'posted',
    error: rejectedAt.get(i)?.slice(0, 500) ?? null,
  }));
  await db.transaction().execute(async (trx) => {
    // A mark lost in a crash only means the batch is posted again under its key.
    await sql`set local synchronous_commit = off`.execute(trx);
    const marked = await trx
      .updateTable('automation_batches')
      .set({ status: 'posted', posted_at: new Date(), lease_until: null, error: null })
      .where('id', '=', batch.id)
      .where('status', '<>', 'posted')
      .returning('id')
      .executeTakeFirst();
    if (!marked || rows.length === 0) return;
    await sql`
      update automation_deliveries d
         set status = v.status, provider_id = v.provider_id, error = v.error, posted_at = now()
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(member_id bigint, provider_id text, status text, error text)
       where d.batch_id = ${batch.id} and d.member_id = v.member_id and d.status = 'queued'
    `.execute(trx);
  });
}

/**
 * At a worker's start: batches claimed by workers of this machine that are no longer running are
 * released at once instead of waiting out their lease (as sending/recovery.ts does for sends).
 */
export async function releaseDeadAutomationClaims(db: Kysely<Database>, host: string, isAlive: (pid: number) => boolean): Promise<number> {
  return releaseClaimsOfDeadWorkers(db, 'automation_batches', host, isAlive);
}
