import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import type { ConversationNotice } from '../../../emails/comment-notifications.ts';
import { automaticEmail } from '../emails/emails.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor } from '../newsletters/sender.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { sign, verify } from '../../lib/tokens.ts';
import { canRead } from '../content/access.ts';
import { ValidationError } from '../../lib/errors.ts';
import { isSuppressed } from '../members/suppression.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { commentToText } from './markdown.ts';
import { isId } from '../../lib/ids.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Emails about the conversation: someone replied to a member, or the brand answered their
 * question. Publishing a comment only writes a `comment_notifications` row; a periodic job
 * (`comment_notifications`, every few minutes) sends each member one email for everything
 * pending, at most one per member every MIN_GAP_MINUTES, and marks the rows sent in the same
 * transaction that queues the email. The email's idempotency key names the member and the last
 * row it covers, so a retried job or a re-run batch is never a second email.
 */
export const MIN_GAP_MINUTES = 15;

export async function queueNotification(
  db: Kysely<Database>,
  memberId: string,
  commentId: string,
  kind: 'reply' | 'answer',
): Promise<void> {
  await db
    .insertInto('comment_notifications')
    .values({ member_id: memberId, comment_id: commentId, kind })
    .onConflict((oc) => oc.columns(['member_id', 'comment_id']).doNothing())
    .execute();
}

const OPT_OUT = 'conversation-emails-opt-out';

export function optOutToken(secret: string, memberId: string): string {
  return sign(secret, OPT_OUT, memberId);
}

export function readOptOutToken(secret: string, token: string): string {
  const memberId = token.length > 500 ? null : verify(secret, OPT_OUT, token);
  if (!isId(memberId))
    throw new ValidationError('This link is not valid. Use the link at the bottom of one of our emails.', 'invalid_token');
  return memberId;
}

export function optOutUrl(siteUrl: string, token: string): string {
  return `${siteUrl}/conversation/unsubscribe?token=${encodeURIComponent(token)}`;
}

export async function setConversationEmails(db: Kysely<Database>, memberId: string, on: boolean): Promise<void> {
  if (on) {
    await db.deleteFrom('comment_notification_optouts').where('member_id', '=', memberId).execute();
    return;
  }
  // A member erased meanwhile: nothing to record (the foreign key would refuse it).
  await sql`insert into comment_notification_optouts (member_id) select id from members where id = ${memberId} on conflict do nothing`.execute(
    db,
  );
  await db
    .updateTable('comment_notifications')
    .set({ sent_at: dbNow() })
    .where('member_id', '=', memberId)
    .where('sent_at', 'is', null)
    .execute();
}

export async function conversationEmailsOn(db: Kysely<Database>, memberId: string): Promise<boolean> {
  const row = await db.selectFrom('comment_notification_optouts').select('member_id').where('member_id', '=', memberId).executeTakeFirst();
  return !row;
}

/**
 * One pass of the batch: every member with pending notifications and no email in the last
 * MIN_GAP_MINUTES gets one email (or none, when they opted out, bounced or complained, or when
 * every reply was hidden meanwhile). Returns how many emails were queued.
 */
export async function sendCommentNotifications(db: Kysely<Database>, ctx: SiteKeys, options: { limit?: number } = {}): Promise<number> {
  const due = await db
    .selectFrom('comment_notifications as n')
    .select('n.member_id')
    .where('n.sent_at', 'is', null)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('comment_notifications as s')
            .select('s.id')
            .whereRef('s.member_id', '=', 'n.member_id')
            .where('s.sent_at', '>', dbNow({ minutes: -MIN_GAP_MINUTES })),
        ),
      ),
    )
    .groupBy('n.member_id')
    .limit(options.limit ?? 1_000)
    .execute();
  let sent = 0;
  for (const { member_id } of due) if (await notifyMember(db, ctx, member_id)) sent++;
  return sent;
}

async function notifyMember(db: Kysely<Database>, ctx: SiteKeys, memberId: string): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    // skip locked: two workers running the batch at once never take the same rows.
    const pending = await trx
      .selectFrom('comment_notifications')
      .select(['id', 'comment_id', 'kind'])
      .where('member_id', '=', memberId)
      .where('sent_at', 'is', null)
      .orderBy('id')
      .forUpdate()
      .skipLocked()
      .execute();
    if (pending.length === 0) return false;
    const markSent = () =>
      trx
        .updateTable('comment_notifications')
        .set({ sent_at: dbNow() })
        .where(
          'id',
          'in',
          pending.map((p) => p.id),
        )
        .execute();

    const member = await trx
      .selectFrom('members as m')
      .innerJoin('tiers as t', 't.id', 'm.tier_id')
      .leftJoin('comment_notification_optouts as o', 'o.member_id', 'm.id')
      .select(['m.id', 'm.email', 'm.name', 'm.status', 'm.tier_id', 't.paid', 'o.member_id as opted_out', 'm.language'])
      .where('m.id', '=', memberId)
      .executeTakeFirst();
    if (
      !member ||
      member.opted_out !== null ||
      member.status === 'bounced' ||
      member.status === 'complained' ||
      (await isSuppressed(trx, member.email))
    ) {
      await markSent();
      return false;
    }
    const comments = await trx
      .selectFrom('comments as c')
      .innerJoin('posts as p', 'p.id', 'c.post_id')
      .leftJoin('members as a', 'a.id', 'c.member_id')
      .leftJoin('staff_users as s', 's.id', 'c.staff_user_id')
      .select([
        'c.id',
        'c.body',
        'c.status',
        'c.staff_user_id',
        'p.slug',
        'p.title',
        'p.visibility',
        'p.tier_ids',
        'p.status as post_status',
        'a.name as member_name',
        's.name as staff_name',
      ])
      .where(
        'c.id',
        'in',
        pending.map((p) => p.comment_id),
      )
      .execute();
    const site = await getSiteSettings(trx);
    const viewer = { kind: 'member' as const, status: member.status, paid: member.paid, tierId: member.tier_id };
    const notices: ConversationNotice[] = [];
    for (const p of pending) {
      const c = comments.find((x) => x.id === p.comment_id);
      // A reply hidden or deleted since, or a post unpublished: nothing to tell.
      if (!c || c.status !== 'published' || c.post_status === 'draft') continue;
      const readable = canRead(viewer, { visibility: c.visibility, tierIds: c.tier_ids });
      notices.push({
        kind: p.kind,
        postTitle: c.title,
        url: `${ctx.siteUrl}/posts/${c.slug}#comment-${c.id}`,
        author: c.staff_user_id ? (c.staff_name ? `${c.staff_name} (${site.title})` : site.title) : c.member_name || 'A member',
        excerpt: readable ? commentToText(c.body, 400) : null,
      });
    }
    await markSent();
    if (notices.length === 0) return false;
    const token = optOutToken(ctx.secret, memberId);
    const url = optOutUrl(ctx.siteUrl, token);
    const rendered = await automaticEmail(trx, 'comment_notifications', {
      lang: member.language ?? site.language,
      brand: await emailBrand(trx, site, ctx.siteUrl),
      name: member.name,
      notices,
      optOutUrl: url,
    });
    await queueEmail(
      trx,
      {
        ...(await senderFor(trx, ctx)),
        to: [member.email],
        ...rendered,
        headers: { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' },
        tags: [{ name: 'kind', value: 'conversation' }],
      },
      { idempotencyKey: `conversation-${memberId}-${pending.at(-1)!.id}` },
    );
    return true;
  });
}
