import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { installTestEmail } from '../../../emails/install-test.ts';
import { ValidationError } from '../../lib/errors.ts';
import type { Mailer } from '../../lib/mailer/port.ts';
import { enqueue, PRIORITY } from '../../lib/queue.ts';
import { dbNow } from '../../lib/sql.ts';
import { emailProblem } from '../members/email.ts';
import { senderFor } from '../newsletters/sender.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';

/**
 * The checklist's "test email to yourself". The button writes a row and a job in one
 * transaction; the worker sends it under the idempotency key `install-test-<id>` and marks the
 * row sent. Killed between the provider's answer and the mark, the retried job posts the same
 * request under the same key: the provider (and the local outbox) deliver it once.
 */
export const INSTALL_TEST_TASK = 'install_test_email';

/** Provider messages may quote the address; the row and the logs never keep one. */
const withoutAddresses = (message: string) => message.replace(/[^\s<>"'`,;:]+@[^\s<>"'`,;:]+/g, '<address>');

/** At most this many test emails per staff user per hour (the button is not a mail cannon). */
const PER_HOUR = 5;

export async function queueTestEmail(db: Kysely<Database>, input: { staffUserId: string; to: string }): Promise<{ id: string }> {
  const problem = emailProblem(input.to);
  if (problem) throw new ValidationError(`Cannot send the test email: ${problem}.`, 'invalid_email');
  return db.transaction().execute(async (trx) => {
    const recent = await trx
      .selectFrom('install_test_emails')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('staff_user_id', '=', input.staffUserId)
      .where('queued_at', '>', dbNow({ seconds: -3600 }))
      .executeTakeFirstOrThrow();
    if (Number(recent.n) >= PER_HOUR)
      throw new ValidationError(`At most ${PER_HOUR} test emails an hour; look for the last one in your inbox (and spam).`, 'too_many');
    const row = await trx
      .insertInto('install_test_emails')
      .values({ staff_user_id: input.staffUserId, to_address: input.to.trim().toLowerCase() })
      .returning('id')
      .executeTakeFirstOrThrow();
    await enqueue(trx, INSTALL_TEST_TASK, { testId: row.id }, { priority: PRIORITY.transactional, maxAttempts: 12 });
    return row;
  });
}

export async function latestTestEmail(db: Kysely<Database>) {
  // The last one sent, else the last one asked for.
  return db
    .selectFrom('install_test_emails')
    .select(['id', 'to_address', 'queued_at', 'sent_at', 'error'])
    .orderBy((eb) => eb('sent_at', 'is not', null), 'desc')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/**
 * The worker's side. Returns what happened; throws when the provider is unavailable (the job
 * retries with the same key). `beforeSend` takes a slot of the provider's rate.
 */
export async function sendTestEmail(
  db: Kysely<Database>,
  mailer: Mailer,
  ctx: { siteUrl: string; from: string; beforeSend?: () => Promise<unknown> },
  testId: string,
): Promise<'sent' | 'refused' | 'nothing'> {
  const row = await db.selectFrom('install_test_emails').selectAll().where('id', '=', testId).executeTakeFirst();
  if (!row || row.sent_at || row.error) return 'nothing';
  const site = await getSiteSettings(db);
  // The site's sender, as members get it on emails about no newsletter (newsletters/sender.ts).
  const sender = await senderFor(db, { siteUrl: ctx.siteUrl, mailFrom: ctx.from });
  const rendered = installTestEmail({
    brand: await emailBrand(db, site, ctx.siteUrl),
    checklistUrl: `${ctx.siteUrl}/admin/checklist`,
    from: sender.from,
  });
  await ctx.beforeSend?.();
  const result = await mailer.send(
    {
      ...sender,
      to: [row.to_address],
      ...rendered,
      tags: [{ name: 'kind', value: 'install_test' }],
    },
    { idempotencyKey: `install-test-${row.id}` },
  );
  if (result.ok) {
    await db.updateTable('install_test_emails').set({ sent_at: dbNow() }).where('id', '=', row.id).execute();
    return 'sent';
  }
  if (result.error.kind === 'invalid') {
    await db
      .updateTable('install_test_emails')
      .set({ error: withoutAddresses(result.error.message).slice(0, 500) })
      .where('id', '=', row.id)
      .execute();
    return 'refused';
  }
  throw new Error(`mail provider ${result.error.kind}: ${withoutAddresses(result.error.message)}`);
}
