import { sql, type Kysely, type Transaction } from 'kysely';
import type { AutomationStatus, Database } from '../../../db/types.ts';
import { renderAutomationEmail } from '../../../emails/automation.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { availableLanguages, t } from '../../lib/i18n.ts';
import { allRenderings, renderSend, sendPlan } from '../sending/languages.ts';
import type { RenderedLanguage, RenderedSend } from '../sending/payload.ts';
import { renderMarkdown } from '../content/markdown.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import type { SessionStaffUser } from '../staff/sessions.ts';
import { collectLinks } from '../tracking/links.ts';
import { checkDefinition, labelsRead, type AutomationDefinition, type Step, type Trigger } from './definitions.ts';
import { enqueueAutomationLanes } from './jobs.ts';

/**
 * Automations as staff make and change them: create, edit, pause, resume, delete, the global
 * hold, and the change log (who did what). Each command runs in one transaction with the
 * automation's row locked, and writes its log row in that transaction.
 *
 * Steps keep their ids across edits (a step in an edit names its `id`), so a member waiting for
 * step 3 still waits for it after step 3's text changed: they get the new text. A step left out
 * of an edit is removed; members on it move to the step that now follows it.
 */
export interface AutomationRow {
  id: string;
  name: string;
  trigger: Trigger;
  status: AutomationStatus;
  template: string | null;
  createdAt: Date;
  updatedAt: Date;
  liveSince: Date | null;
  steps: Array<Step & { id: string }>;
}

export type Actor = Pick<SessionStaffUser, 'id' | 'email'> | null;

export interface AutomationInput extends AutomationDefinition {
  status?: 'draft' | 'live' | undefined;
  /** Steps may carry their id (from a GET) to stay the same step through an edit. */
  steps: Array<Step & { id?: string | undefined }>;
  template?: string | undefined;
}

const HOLD_KEY = 'automations_held';

async function logChange(
  db: Kysely<Database>,
  automationId: string | null,
  actor: Actor,
  action: string,
  detail: Record<string, unknown> = {},
) {
  await db
    .insertInto('automation_changes')
    .values({
      automation_id: automationId,
      staff_user_id: actor?.id ?? null,
      staff_email: actor?.email ?? null,
      action,
      detail: JSON.stringify(detail),
    })
    .execute();
}

/** The definition's rules that need the database: labels a condition reads exist, posts exist. */
async function checkAgainstDatabase(db: Kysely<Database>, def: AutomationDefinition): Promise<void> {
  checkDefinition(def);
  for (const label of labelsRead(def)) {
    const row = await db
      .selectFrom('labels')
      .select('id')
      .where(sql`lower(name)`, '=', label.trim().toLowerCase())
      .executeTakeFirst();
    if (!row)
      throw new ValidationError(
        `A condition reads the label "${label.slice(0, 100)}", which no member has ever had. Check its spelling.`,
        'unknown_label',
      );
  }
  for (const [i, step] of def.steps.entries()) {
    if (step.type === 'email' && 'post_id' in step) {
      const post = /^\d{1,18}$/.test(step.post_id)
        ? await db.selectFrom('posts').select('id').where('id', '=', step.post_id).executeTakeFirst()
        : undefined;
      if (!post) throw new ValidationError(`Step ${i + 1}: there is no post ${step.post_id.slice(0, 20)}.`, 'unknown_post');
    }
  }
  const { trigger } = def;
  if (trigger.newsletters?.length) {
    const found = await db.selectFrom('newsletters').select('slug').where('slug', 'in', trigger.newsletters).execute();
    const missing = trigger.newsletters.filter((s) => !found.some((f) => f.slug === s));
    if (missing.length) throw new ValidationError(`There is no newsletter "${missing[0]!.slice(0, 60)}".`, 'unknown_newsletter');
  }
  if (trigger.tiers?.length) {
    const found = await db.selectFrom('tiers').select('slug').where('slug', 'in', trigger.tiers).execute();
    const missing = trigger.tiers.filter((s) => !found.some((f) => f.slug === s));
    if (missing.length) throw new ValidationError(`There is no tier "${missing[0]!.slice(0, 60)}".`, 'unknown_tier');
  }
}

/** One rendering of an email step: its compiled variants and links, fixed for tracking. */
export async function renderEmailStep(db: Kysely<Database>, siteUrl: string, stepId: string, step: Step): Promise<void> {
  if (step.type !== 'email') return;
  // Rendered in every language of the install (a handful, once per save): which member gets
  // which is decided when a batch is written (engine.ts), by their language then.
  const site = await getSiteSettings(db);
  let rendered: RenderedSend;
  if ('post_id' in step) {
    const plan = await sendPlan(db, step.post_id, site.language);
    rendered = await renderSend(db, siteUrl, plan, plan.known);
    if (step.subject) {
      for (const r of allRenderings(rendered)) {
        r.full = { ...r.full, subject: step.subject };
        if (r.preview) r.preview = { ...r.preview, subject: step.subject };
      }
    }
  } else {
    const brand = await emailBrand(db, site, siteUrl);
    // {{site_url}} before Markdown: a link to it must be an absolute address to be kept.
    const bodyHtml = renderMarkdown(step.markdown.replace(/\{\{\s*site_url\s*\}\}/g, siteUrl));
    const inLanguage = (lang: string): RenderedLanguage => ({
      full: renderAutomationEmail({ lang, brand, subject: step.subject, preheader: step.preheader ?? null, bodyHtml }),
      preview: null,
      anonymousName: t(lang, 'translations.there'),
    });
    const others = availableLanguages()
      .map((l) => l.code)
      .filter((code) => code !== site.language);
    rendered = { ...inLanguage(site.language), languages: Object.fromEntries(others.map((code) => [code, inLanguage(code)])) };
  }
  const links = collectLinks(allRenderings(rendered).flatMap((r) => [...r.full.html.texts, ...(r.preview?.html.texts ?? [])]));
  await db
    .insertInto('automation_emails')
    .values({ step_id: stepId, rendered: JSON.stringify(rendered), links })
    .execute();
}

const sameStep = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function withoutId(step: Step & { id?: string | undefined }): Step {
  const { id: _id, ...rest } = step;
  return rest as Step;
}

/**
 * Writes the steps of an automation: kept ones (by id, or by position when the edit names no ids
 * and keeps the count) are updated in place, new ones inserted, missing ones removed, and the
 * members on a removed step moved to the step that follows it now.
 */
async function saveSteps(
  trx: Transaction<Database>,
  siteUrl: string,
  automationId: string,
  steps: AutomationInput['steps'],
): Promise<string[]> {
  const old = await trx
    .selectFrom('automation_steps')
    .select(['id', 'position', 'definition'])
    .where('automation_id', '=', automationId)
    .where('position', 'is not', null)
    .orderBy('position')
    .execute();
  const byPosition = steps.every((s) => !s.id) && old.length === steps.length;
  const keptIds = steps.map((s, i) => (byPosition ? old[i]!.id : s.id));
  for (const id of keptIds)
    if (id && !old.some((o) => o.id === id))
      throw new ValidationError(`Step id ${id.slice(0, 20)} is not a step of this automation.`, 'unknown_step');
  if (new Set(keptIds.filter(Boolean)).size !== keptIds.filter(Boolean).length)
    throw new ValidationError('A step id appears twice.', 'duplicate_step');
  // Positions move: clear them first (the unique index holds positions of live steps).
  await trx.updateTable('automation_steps').set({ position: null }).where('automation_id', '=', automationId).execute();
  const ids: string[] = [];
  for (const [i, input] of steps.entries()) {
    const step = withoutId(input);
    const keep = keptIds[i];
    if (keep) {
      const before = old.find((o) => o.id === keep)!;
      await trx
        .updateTable('automation_steps')
        .set({ position: i + 1, definition: JSON.stringify(step) })
        .where('id', '=', keep)
        .execute();
      if (!sameStep(before.definition, step)) await renderEmailStep(trx, siteUrl, keep, step);
      ids.push(keep);
    } else {
      const row = await trx
        .insertInto('automation_steps')
        .values({ automation_id: automationId, position: i + 1, definition: JSON.stringify(step) })
        .returning('id')
        .executeTakeFirstOrThrow();
      await renderEmailStep(trx, siteUrl, row.id, step);
      ids.push(row.id);
    }
  }
  const removed = old.filter((o) => !keptIds.includes(o.id));
  for (const r of removed) {
    // The step that now follows it: the one after its closest kept predecessor.
    const predecessor = old.filter((o) => o.position! < r.position! && keptIds.includes(o.id)).at(-1);
    const nextIndex = predecessor ? ids.indexOf(predecessor.id) + 1 : 0;
    const next = ids[nextIndex] ?? null;
    await trx.updateTable('automation_steps').set({ removed_at: new Date() }).where('id', '=', r.id).execute();
    await trx
      .updateTable('automation_members')
      .set(next ? { step_id: next } : { step_id: null, status: 'done', finished_at: new Date() })
      .where('automation_id', '=', automationId)
      .where('step_id', '=', r.id)
      .where('status', '=', 'active')
      .execute();
  }
  return ids;
}

export async function createAutomation(
  db: Kysely<Database>,
  siteUrl: string,
  input: AutomationInput,
  actor: Actor,
): Promise<AutomationRow> {
  const def = { name: input.name, trigger: input.trigger, steps: input.steps.map(withoutId) };
  await checkAgainstDatabase(db, def);
  const id = await db.transaction().execute(async (trx) => {
    const status = input.status ?? 'draft';
    const row = await trx
      .insertInto('automations')
      .values({
        name: input.name,
        trigger: JSON.stringify(input.trigger),
        trigger_type: input.trigger.type,
        status,
        template: input.template ?? null,
        created_by: actor?.id ?? null,
        live_since: status === 'live' ? new Date() : null,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await saveSteps(trx, siteUrl, row.id, def.steps);
    await logChange(trx, row.id, actor, 'created', { status, steps: def.steps.length });
    return row.id;
  });
  return getAutomation(db, id);
}

async function lockAutomation(trx: Kysely<Database>, id: string) {
  if (!/^\d{1,18}$/.test(id)) throw new NotFoundError('There is no such automation.', 'not_found');
  const row = await trx.selectFrom('automations').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  if (!row) throw new NotFoundError('There is no such automation.', 'not_found');
  return row;
}

export interface AutomationPatch {
  name?: string | undefined;
  trigger?: Trigger | undefined;
  steps?: AutomationInput['steps'] | undefined;
  status?: 'draft' | 'live' | 'paused' | undefined;
}

export async function updateAutomation(
  db: Kysely<Database>,
  siteUrl: string,
  id: string,
  patch: AutomationPatch,
  actor: Actor,
): Promise<AutomationRow> {
  const current = await getAutomation(db, id);
  const def = {
    name: patch.name ?? current.name,
    trigger: patch.trigger ?? current.trigger,
    steps: (patch.steps ?? current.steps).map(withoutId),
  };
  await checkAgainstDatabase(db, def);
  await db.transaction().execute(async (trx) => {
    const row = await lockAutomation(trx, id);
    const status = patch.status ?? row.status;
    await trx
      .updateTable('automations')
      .set({
        name: def.name,
        trigger: JSON.stringify(def.trigger),
        trigger_type: def.trigger.type,
        status,
        updated_at: new Date(),
        ...(status === 'live' && !row.live_since ? { live_since: new Date() } : {}),
      })
      .where('id', '=', id)
      .execute();
    if (patch.steps) await saveSteps(trx, siteUrl, id, patch.steps);
    await logChange(trx, id, actor, 'edited', {
      fields: Object.keys(patch).filter((k) => patch[k as keyof AutomationPatch] !== undefined),
      ...(patch.status && patch.status !== row.status ? { status: { from: row.status, to: patch.status } } : {}),
    });
    if (status === 'live') await enqueueAutomationLanes(trx);
  });
  return getAutomation(db, id);
}

export async function deleteAutomation(db: Kysely<Database>, id: string, actor: Actor): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const row = await lockAutomation(trx, id);
    await logChange(trx, id, actor, 'deleted', { name: row.name });
    await trx.deleteFrom('automations').where('id', '=', id).execute();
  });
}

/** Holds every member where they are: nothing of this automation runs until it is resumed. */
export async function pauseAutomation(db: Kysely<Database>, id: string, actor: Actor): Promise<AutomationRow> {
  await db.transaction().execute(async (trx) => {
    const row = await lockAutomation(trx, id);
    if (row.status === 'draft') throw new ConflictError('A draft is not running; there is nothing to pause.', 'not_live');
    if (row.status === 'paused') return;
    await trx.updateTable('automations').set({ status: 'paused', updated_at: new Date() }).where('id', '=', id).execute();
    await logChange(trx, id, actor, 'paused');
  });
  return getAutomation(db, id);
}

/**
 * Continues a paused automation. Members whose email step came due while it was paused are spread
 * over the provider's rate (`perSecond` emails a second, 100 to a request) instead of all at once:
 * the rate limiter would hold them to that rate anyway, and spreading them keeps the waits and
 * conditions behind them in the same order.
 */
export async function resumeAutomation(
  db: Kysely<Database>,
  id: string,
  actor: Actor,
  options: { perSecond: number },
): Promise<AutomationRow> {
  await db.transaction().execute(async (trx) => {
    const row = await lockAutomation(trx, id);
    if (row.status === 'live') return;
    await trx
      .updateTable('automations')
      .set({ status: 'live', updated_at: new Date(), ...(row.live_since ? {} : { live_since: new Date() }) })
      .where('id', '=', id)
      .execute();
    const spread = await sql`
      update automation_members am set due_at = now() + make_interval(secs => o.n::float8 / ${Math.max(1, options.perSecond)})
        from (select member_id, row_number() over (order by due_at, member_id) - 1 as n
                from automation_members where automation_id = ${id} and status = 'active' and due_at <= now()) o
       where am.automation_id = ${id} and am.member_id = o.member_id
    `.execute(trx);
    await logChange(trx, id, actor, row.status === 'draft' ? 'went_live' : 'resumed', { overdue: Number(spread.numAffectedRows ?? 0) });
    await enqueueAutomationLanes(trx);
  });
  return getAutomation(db, id);
}

/** The switch for bad-news days: while it is on, no automation runs a step. */
export async function setAutomationsHeld(db: Kysely<Database>, held: boolean, actor: Actor): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .insertInto('settings')
      .values({ key: HOLD_KEY, value: JSON.stringify(held) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(held), updated_at: new Date() }))
      .execute();
    await logChange(trx, null, actor, held ? 'held_all' : 'released_all');
    if (!held) await enqueueAutomationLanes(trx);
  });
}

export async function automationsHeld(db: Kysely<Database>): Promise<boolean> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', HOLD_KEY).executeTakeFirst();
  return row?.value === true;
}

function toRow(
  a: Awaited<ReturnType<typeof loadRows>>[number],
  steps: Array<{ id: string; automation_id: string; definition: unknown }>,
): AutomationRow {
  return {
    id: a.id,
    name: a.name,
    trigger: a.trigger as unknown as Trigger,
    status: a.status,
    template: a.template,
    createdAt: a.created_at,
    updatedAt: a.updated_at,
    liveSince: a.live_since,
    steps: steps.filter((s) => s.automation_id === a.id).map((s) => ({ ...(s.definition as Step), id: s.id })),
  };
}

function loadRows(db: Kysely<Database>, id?: string) {
  return db
    .selectFrom('automations')
    .selectAll()
    .$if(id !== undefined, (q) => q.where('id', '=', id!))
    .orderBy('id')
    .execute();
}

async function loadSteps(db: Kysely<Database>, ids: string[]) {
  if (ids.length === 0) return [];
  return db
    .selectFrom('automation_steps')
    .select(['id', 'automation_id', 'definition'])
    .where('automation_id', 'in', ids)
    .where('position', 'is not', null)
    .orderBy('position')
    .execute();
}

export async function getAutomation(db: Kysely<Database>, id: string): Promise<AutomationRow> {
  if (!/^\d{1,18}$/.test(id)) throw new NotFoundError('There is no such automation.', 'not_found');
  const [row] = await loadRows(db, id);
  if (!row) throw new NotFoundError('There is no such automation.', 'not_found');
  return toRow(row, await loadSteps(db, [row.id]));
}

/** Every automation (a site has a handful: no pagination needed). */
export async function listAutomations(db: Kysely<Database>): Promise<AutomationRow[]> {
  const rows = await loadRows(db);
  const steps = await loadSteps(
    db,
    rows.map((r) => r.id),
  );
  return rows.map((r) => toRow(r, steps));
}

export async function automationChanges(db: Kysely<Database>, id: string | null, limit = 50) {
  return db
    .selectFrom('automation_changes')
    .select(['id', 'automation_id', 'staff_email', 'action', 'detail', 'created_at'])
    .$if(id !== null, (q) => q.where('automation_id', '=', id!))
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
