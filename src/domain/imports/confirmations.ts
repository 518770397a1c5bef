import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { automaticEmailRenderer } from '../emails/emails.ts';
import { log } from '../../lib/log.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { MAX_BATCH, type EmailMessage, type Mailer } from '../../lib/mailer/port.ts';
import { ConflictError } from '../../lib/errors.ts';
import { CONFIRM_DAYS, confirmToken, confirmUrl, preferencesToken } from '../members/links.ts';
import { listUnsubscribeHeaders } from '../members/subscribe.ts';
import { emailHash } from '../members/suppression.ts';
import { senderFor } from '../newsletters/sender.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { getImport } from './pipeline.ts';

/** How often one batch waits out the provider's 429 before the job gives up and retries later. */
const RATE_LIMIT_WAITS = 5;
const MAX_WAIT_SECONDS = 60;

/**
 * Sends the confirmation email to this import's new pending members, in batches of 100 through
 * mailer.sendBatch with idempotency key `import-<id>-confirm-<n>`, batches fixed by member id
 * order so a retried job re-posts identical batches.
 *
 * Batch n is the n-th window of 100 members this import created (by id), whatever their status
 * now; only those still pending and not suppressed are mailed. Windows over the import's own
 * members do not shift when someone confirms between two attempts, and links are signed as of
 * the import's end, so a retry renders the same bytes. When a window's content did change (a
 * member confirmed from the first attempt's email), the provider refuses the reused key (409):
 * that batch was posted before, so it is skipped rather than sent again.
 */
export async function sendImportConfirmations(
  db: Kysely<Database>,
  mailer: Mailer,
  ctx: SiteKeys,
  importId: string,
): Promise<{ sent: number }> {
  const record = await getImport(db, importId);
  if (record.status !== 'done' || record.finished_at === null)
    throw new ConflictError('This import has not finished yet.', 'import_not_done');
  const issuedAt = record.finished_at.getTime();

  const newsletters = await db
    .selectFrom('newsletters')
    .select(['id', 'name'])
    .$if(record.newsletter_id !== null, (q) => q.where('id', '=', record.newsletter_id!))
    .$if(record.newsletter_id === null, (q) => q.where('is_default', '=', true))
    .orderBy('sort_order')
    .orderBy('id')
    .execute();
  const site = await getSiteSettings(db);
  const brand = await emailBrand(db, site, ctx.siteUrl);
  const confirmSubscriptionEmail = await automaticEmailRenderer(db, 'confirmation');
  const sender = await senderFor(
    db,
    ctx,
    newsletters.map((nl) => nl.id),
  );

  // members has no index on import_id: find the import's id range once, then walk it by primary key.
  const range = await db
    .selectFrom('members')
    .select([sql<string | null>`min(id)`.as('first'), sql<string | null>`max(id)`.as('last')])
    .where('import_id', '=', record.id)
    .executeTakeFirstOrThrow();
  if (range.first === null || range.last === null) return { sent: 0 };

  let after = (BigInt(range.first) - 1n).toString();
  let sent = 0;
  for (let n = 0; ; n++) {
    const window = await db
      .selectFrom('members')
      .select(['id', 'email', 'name', 'status', 'language'])
      .where('import_id', '=', record.id)
      .where('id', '>', after)
      .where('id', '<=', range.last)
      .orderBy('id')
      .limit(MAX_BATCH)
      .execute();
    if (window.length === 0) break;
    after = window[window.length - 1]!.id;

    const pending = window.filter((m) => m.status === 'pending');
    if (pending.length === 0) continue;
    const suppressed = new Set(
      (
        await db
          .selectFrom('suppressions')
          .select('email_hash')
          .where(
            'email_hash',
            'in',
            pending.map((m) => emailHash(m.email)),
          )
          .execute()
      ).map((s) => s.email_hash),
    );
    const recipients = pending.filter((m) => !suppressed.has(emailHash(m.email)));
    if (recipients.length === 0) continue;

    const messages: EmailMessage[] = recipients.map((member) => {
      const rendered = confirmSubscriptionEmail({
        lang: member.language ?? site.language,
        brand,
        name: member.name,
        newsletters: newsletters.map((nl) => nl.name),
        confirmUrl: confirmUrl(
          ctx.siteUrl,
          confirmToken(
            ctx.secret,
            member.id,
            newsletters.map((nl) => nl.id),
            issuedAt,
          ),
        ),
        validDays: CONFIRM_DAYS,
      });
      return {
        ...sender,
        to: [member.email],
        ...rendered,
        headers: listUnsubscribeHeaders(ctx.siteUrl, preferencesToken(ctx.secret, member.id)),
        tags: [
          { name: 'kind', value: 'import-confirmation' },
          { name: 'import', value: record.id },
        ],
      };
    });
    if (await postBatch(mailer, messages, `import-${record.id}-confirm-${n}`)) sent += messages.length;
  }
  return { sent };
}

/** Posts one batch; true when the provider took it now, false when it was taken before or refused for good. */
async function postBatch(mailer: Mailer, messages: EmailMessage[], idempotencyKey: string): Promise<boolean> {
  for (let wait = 0; ; wait++) {
    const result = await mailer.sendBatch(messages, { idempotencyKey });
    if (result.ok) return true;
    const error = result.error;
    if (error.status === 409) return false;
    if (error.kind === 'rate_limited' && wait < RATE_LIMIT_WAITS) {
      await new Promise((resolve) => setTimeout(resolve, Math.min(MAX_WAIT_SECONDS, error.retryAfterSeconds ?? 1) * 1000));
      continue;
    }
    if (error.kind === 'invalid') {
      // Retrying the same payload cannot help; the job goes on with the next batch.
      log.warn('import confirmation batch refused by the provider', { idempotencyKey, status: error.status, reason: error.message });
      return false;
    }
    // Unavailable or still rate-limited: the job retries, re-posting under the same keys.
    throw new Error(`mail provider ${error.kind} while sending ${idempotencyKey}: ${error.message}`);
  }
}
