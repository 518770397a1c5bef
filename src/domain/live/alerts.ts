import type { Kysely } from 'kysely';
import type { AlertKind, AlertMode, Database } from '../../../db/types.ts';
import { staffAlertEmail } from '../../../emails/staff-alert.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { enqueue } from '../../lib/queue.ts';
import { senderFor, type MailDefaults } from '../newsletters/sender.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { can, type Permission } from '../staff/permissions.ts';
import type { LiveData, LiveType } from './events.ts';

/**
 * Alerts to people: each staff user chooses, per kind, an immediate email, an hourly digest, or
 * nothing. A fact queues one `staff_alert` job (keyed by the fact: queued once) in its own
 * transaction; the job records one staff_alerts row per person (unique per person and fact, so
 * a retried job alerts nobody twice) and queues the immediate emails in the same transaction,
 * under an idempotency key per row. The hourly digest takes each person's un-emailed rows.
 * Only staff users whose role can act on the kind are alerted.
 */
export const ALERT_KINDS: readonly AlertKind[] = [
  'question',
  'comment_held',
  'comment_reported',
  'send_failed',
  'payment_failed',
  'signup_wave',
];
export const ALERT_MODES: readonly AlertMode[] = ['immediate', 'hourly', 'none'];

/** Who can act, and what a staff user gets before they choose. */
export const ALERT_KIND_RULES: Record<AlertKind, { permission: Permission; fallback: AlertMode; label: string }> = {
  question: { permission: 'comments:moderate', fallback: 'hourly', label: 'A member asked a question' },
  comment_held: { permission: 'comments:moderate', fallback: 'hourly', label: 'A comment is held for review' },
  comment_reported: { permission: 'comments:moderate', fallback: 'immediate', label: 'A comment was reported' },
  send_failed: { permission: 'sends:write', fallback: 'immediate', label: 'A send failed' },
  payment_failed: { permission: 'members:read', fallback: 'hourly', label: 'A payment failed' },
  signup_wave: { permission: 'members:write', fallback: 'immediate', label: 'A sign-up wave is on hold' },
};

const KIND_OF: Partial<Record<LiveType, AlertKind>> = {
  'question.created': 'question',
  'comment.held': 'comment_held',
  'comment.reported': 'comment_reported',
  'send.failed': 'send_failed',
  'payment.failed': 'payment_failed',
  'signup.wave': 'signup_wave',
};

export interface StaffAlertPayload {
  kind: AlertKind;
  factKey: string;
  summary: string;
  link: string;
}

export const ALERT_TASK = 'staff_alert' as const;

/** In the fact's transaction: the job that alerts staff of it (once per fact: the job key). */
export async function queueAlerts(db: Kysely<Database>, type: LiveType, data: LiveData): Promise<void> {
  const kind = KIND_OF[type];
  if (!kind) return;
  const id = String(data.id ?? '');
  const alert: StaffAlertPayload | undefined =
    kind === 'question'
      ? { kind, factKey: `question:${id}`, summary: 'A member asked a question', link: '/admin/conversation/questions' }
      : kind === 'comment_held'
        ? { kind, factKey: `held:${id}`, summary: 'A comment is held for review', link: '/admin/conversation' }
        : kind === 'comment_reported'
          ? { kind, factKey: `reported:${id}`, summary: 'A comment was reported', link: '/admin/conversation' }
          : kind === 'send_failed'
            ? { kind, factKey: `send-failed:${id}`, summary: 'A send failed', link: `/admin/sends/${id}` }
            : kind === 'signup_wave'
              ? { kind, factKey: `wave:${id}`, summary: 'Sign-ups on hold: a wave', link: '/admin/waves' }
              : {
                  kind,
                  factKey: `payment-failed:${id}:${new Date().toISOString().slice(0, 10)}`,
                  summary: 'A payment failed',
                  link: `/admin/members/${id}`,
                };
  await queueStaffAlert(db, alert);
}

/** In the fact's transaction: the job that alerts staff of one fact, keyed by it (queued once). */
export async function queueStaffAlert(db: Kysely<Database>, alert: StaffAlertPayload): Promise<void> {
  await enqueue(db, ALERT_TASK, alert, { jobKey: `${ALERT_TASK}:${alert.factKey}`, maxAttempts: 10 });
}

/** Each staff user's choice per kind (the kind's default where they made none). */
export async function alertSettings(db: Kysely<Database>, staffUserId: string): Promise<Record<AlertKind, AlertMode>> {
  const rows = await db.selectFrom('staff_alert_settings').select(['kind', 'mode']).where('staff_user_id', '=', staffUserId).execute();
  const chosen = new Map(rows.map((r) => [r.kind, r.mode]));
  return Object.fromEntries(ALERT_KINDS.map((k) => [k, chosen.get(k) ?? ALERT_KIND_RULES[k].fallback])) as Record<AlertKind, AlertMode>;
}

export async function saveAlertSettings(
  db: Kysely<Database>,
  staffUserId: string,
  settings: Partial<Record<AlertKind, AlertMode>>,
): Promise<void> {
  const rows = Object.entries(settings)
    .filter(([k, m]) => ALERT_KINDS.includes(k as AlertKind) && ALERT_MODES.includes(m as AlertMode))
    .map(([kind, mode]) => ({ staff_user_id: staffUserId, kind: kind as AlertKind, mode: mode as AlertMode }));
  if (rows.length === 0) return;
  await db
    .insertInto('staff_alert_settings')
    .values(rows)
    .onConflict((oc) => oc.columns(['staff_user_id', 'kind']).doUpdateSet((eb) => ({ mode: eb.ref('excluded.mode') })))
    .execute();
}

async function brand(db: Kysely<Database>, siteUrl: string) {
  const site = await getSiteSettings(db);
  return emailBrand(db, site, siteUrl);
}

/** The job: one row per staff user who can act and wants it; immediate ones emailed now. Returns the rows made. */
export async function deliverAlert(db: Kysely<Database>, mail: MailDefaults, alert: StaffAlertPayload): Promise<number> {
  const rule = ALERT_KIND_RULES[alert.kind];
  return db.transaction().execute(async (trx) => {
    const staff = await trx
      .selectFrom('staff_users as s')
      .leftJoin('staff_alert_settings as a', (j) => j.onRef('a.staff_user_id', '=', 's.id').on('a.kind', '=', alert.kind))
      .select(['s.id', 's.email', 's.role', 'a.mode'])
      .where('s.disabled_at', 'is', null)
      .execute();
    const wanted = staff
      .filter((s) => can(s.role, rule.permission))
      .map((s) => ({ ...s, mode: s.mode ?? rule.fallback }))
      .filter((s): s is typeof s & { mode: 'immediate' | 'hourly' } => s.mode !== 'none');
    if (wanted.length === 0) return 0;
    const made = await trx
      .insertInto('staff_alerts')
      .values(
        wanted.map((s) => ({
          staff_user_id: s.id,
          kind: alert.kind,
          fact_key: alert.factKey,
          summary: alert.summary,
          link: alert.link,
          mode: s.mode,
        })),
      )
      .onConflict((oc) => oc.columns(['staff_user_id', 'fact_key']).doNothing())
      .returning(['id', 'staff_user_id', 'mode'])
      .execute();
    const immediate = made.filter((m) => m.mode === 'immediate');
    if (immediate.length > 0) {
      const b = await brand(trx, mail.siteUrl);
      const sender = await senderFor(trx, mail);
      for (const m of immediate) {
        const to = wanted.find((s) => s.id === m.staff_user_id)!.email;
        const rendered = staffAlertEmail({
          brand: b,
          digest: false,
          alerts: [{ summary: alert.summary, url: mail.siteUrl + alert.link }],
          settingsUrl: `${mail.siteUrl}/admin/alerts`,
        });
        await queueEmail(
          trx,
          { ...sender, to: [to], ...rendered, tags: [{ name: 'kind', value: 'staff-alert' }] },
          { idempotencyKey: `staff-alert-${m.id}` },
        );
      }
      await trx
        .updateTable('staff_alerts')
        .set({ emailed_at: new Date() })
        .where(
          'id',
          'in',
          immediate.map((m) => m.id),
        )
        .execute();
    }
    return made.length;
  });
}

/** Hourly: each staff user's un-emailed digest alerts in one email. Returns the emails queued. */
export async function sendAlertDigests(db: Kysely<Database>, mail: MailDefaults): Promise<number> {
  return db.transaction().execute(async (trx) => {
    // Marked and queued in one transaction: a digest is queued once (its key: the person and last row).
    const rows = await trx
      .updateTable('staff_alerts')
      .set({ emailed_at: new Date() })
      .where('emailed_at', 'is', null)
      .where('mode', '=', 'hourly')
      .returning(['id', 'staff_user_id', 'summary', 'link'])
      .execute();
    if (rows.length === 0) return 0;
    const byStaff = Map.groupBy(rows, (r) => r.staff_user_id);
    const people = await trx
      .selectFrom('staff_users')
      .select(['id', 'email'])
      .where('id', 'in', [...byStaff.keys()])
      .where('disabled_at', 'is', null)
      .execute();
    const b = await brand(trx, mail.siteUrl);
    const sender = await senderFor(trx, mail);
    for (const p of people) {
      const mine = byStaff.get(p.id)!.sort((a, c) => Number(a.id) - Number(c.id));
      const rendered = staffAlertEmail({
        brand: b,
        digest: true,
        alerts: mine.map((r) => ({ summary: r.summary, url: mail.siteUrl + r.link })),
        settingsUrl: `${mail.siteUrl}/admin/alerts`,
      });
      await queueEmail(
        trx,
        { ...sender, to: [p.email], ...rendered, tags: [{ name: 'kind', value: 'staff-digest' }] },
        { idempotencyKey: `staff-digest-${p.id}-${mine.at(-1)!.id}` },
      );
    }
    return people.length;
  });
}
