import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StaffRole } from '../../db/types.ts';
import { ALERT_TASK, deliverAlert, saveAlertSettings, sendAlertDigests, type StaffAlertPayload } from '../../src/domain/live/alerts.ts';
import { liveFromWebhookEvent, liveSendSettled } from '../../src/domain/live/hooks.ts';
import { createStaffUser } from '../../src/domain/staff/users.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts';

/**
 * Alerts to staff: a fact queues one job (keyed), the job alerts each staff user who can act and
 * wants it, once (a retried job changes nothing), immediate ones by email at once, hourly ones in
 * one digest (a second digest run sends nothing), "none" never; never to a role that cannot act.
 */
let t: TestDatabase;
const ids: Partial<Record<StaffRole, string>> = {};
const MAIL = { siteUrl: 'http://hearth.test' };

async function jobsOf(task: string) {
  const r = await sql<{ payload: Record<string, unknown> }>`
    select j.payload from graphile_worker._private_jobs j join graphile_worker._private_tasks k on k.id = j.task_id
    where k.identifier = ${task} order by j.id`.execute(t.db);
  return r.rows.map((x) => x.payload);
}
const emailsTo = async (address: string) =>
  (await jobsOf('send_email')).filter((p) => (p.message as { to: string[] }).to.includes(address)) as Array<{
    message: { subject: string; text: string };
    idempotencyKey: string;
  }>;

beforeAll(async () => {
  t = await createTestDatabase();
  for (const role of ['owner', 'admin', 'editor', 'moderator'] as const) {
    ids[role] = (await createStaffUser(t.db, { email: `${role}@example.com`, password: 'a long staff password', role })).id;
  }
  await saveAlertSettings(t.db, ids.owner!, { question: 'immediate', send_failed: 'hourly' });
  await saveAlertSettings(t.db, ids.admin!, { question: 'hourly', send_failed: 'none' });
  await saveAlertSettings(t.db, ids.moderator!, { question: 'none' });
  await saveAlertSettings(t.db, ids.editor!, { question: 'immediate', send_failed: 'immediate' }); // an editor cannot moderate
});
afterAll(async () => {
  await t?.drop();
});

describe('staff alerts', () => {
  it('arrive once per setting, only to staff who can act', async () => {
    // The same fact reported twice (a retried transaction, say): one job.
    for (let i = 0; i < 2; i++) {
      await t.db
        .transaction()
        .execute((trx) => liveFromWebhookEvent(trx, 'question.created', { id: '41', post_id: '7', member_id: '3', status: 'published' }));
    }
    const jobs = (await jobsOf(ALERT_TASK)) as unknown as StaffAlertPayload[];
    expect(jobs.filter((j) => j.factKey === 'question:41')).toHaveLength(1);
    // The job, run twice (a retry after a crash): the same rows, the same emails.
    await deliverAlert(t.db, MAIL, jobs[0]!);
    await deliverAlert(t.db, MAIL, jobs[0]!);
    expect(await emailsTo('owner@example.com')).toHaveLength(1); // immediate
    expect((await emailsTo('owner@example.com'))[0]!.message.subject).toBe('A member asked a question');
    expect(await emailsTo('admin@example.com')).toHaveLength(0); // hourly: not yet
    expect(await emailsTo('moderator@example.com')).toHaveLength(0); // none
    expect(await emailsTo('editor@example.com')).toHaveLength(0); // cannot moderate: never, whatever they chose

    // A failed send: the editor (sends) at once, the owner hourly, the admin never, the moderator cannot act.
    await t.db.transaction().execute((trx) => liveSendSettled(trx, '99', 'failed'));
    const failed = ((await jobsOf(ALERT_TASK)) as unknown as StaffAlertPayload[]).find((j) => j.factKey === 'send-failed:99')!;
    await deliverAlert(t.db, MAIL, failed);
    expect(await emailsTo('editor@example.com')).toHaveLength(1);
    expect(await emailsTo('moderator@example.com')).toHaveLength(0);

    // The hour's digest: the admin's question, the owner's failed send; a second run sends nothing new.
    expect(await sendAlertDigests(t.db, MAIL)).toBe(2);
    expect(await sendAlertDigests(t.db, MAIL)).toBe(0);
    const adminMail = await emailsTo('admin@example.com');
    expect(adminMail).toHaveLength(1);
    expect(adminMail[0]!.message.text).toContain('A member asked a question');
    expect(adminMail[0]!.message.text).toContain('http://hearth.test/admin/conversation/questions');
    const ownerMail = await emailsTo('owner@example.com');
    expect(ownerMail).toHaveLength(2);
    expect(ownerMail[1]!.message.text).toContain('A send failed');
    expect(new Set(ownerMail.map((m) => m.idempotencyKey)).size).toBe(2);
    expect(await emailsTo('moderator@example.com')).toHaveLength(0);

    // The facts are on the live feed too, in commit order.
    const live = await t.db.selectFrom('live_events').select(['seq', 'type']).orderBy('seq').execute();
    expect(live.map((l) => l.type)).toEqual(['question.created', 'question.created', 'send.progress', 'send.failed']);
    expect(live.every((l) => l.seq !== null)).toBe(true);
  });
});
