import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { MAX_BATCH } from '../../lib/mailer/port.ts';
import type { SiteLinks } from '../../lib/site-keys.ts';
import { senderFor } from '../newsletters/sender.ts';
import { getSiteSettings } from '../site/settings.ts';
import { collectLinks } from '../tracking/links.ts';
import { earlierSendsOf, recipientWhere, type Segment } from './segments.ts';
import { enqueueLanes, enqueueWinnerJob } from './jobs.ts';
import { VARIANT_CODE } from './payload.ts';
import { allRenderings, deliveryLanguageSql, renderSend, sendPlan, variantSql } from './languages.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Preparing a send: when its time comes, the segment is snapshotted into one delivery row per
 * member and fixed batches, and the post is rendered once per variant. A member who joins
 * later is not added. One who unsubscribes (or is suppressed) before their batch is first
 * posted is skipped (store.ts), and the skip is written down before posting, so a retried
 * batch is still the identical payload.
 *
 * Two transactions: the first makes the send "preparing" (so staff see it), the second does
 * the snapshot and makes it "sending" (or "sent" when nobody matched). If the worker dies in
 * between, the job runs again and the second step starts over: it is all-or-nothing.
 */
export interface PrepareContext extends SiteLinks {
  /** MAIL_FROM: the default sender, when the send's newsletter names none (newsletters/sender.ts). */
  from: string;
}

export type PrepareOutcome = 'prepared' | 'not_due' | 'not_scheduled';

export async function prepareSend(db: Kysely<Database>, ctx: PrepareContext, sendId: string): Promise<PrepareOutcome> {
  const started = await db
    .updateTable('sends')
    .set({ status: 'preparing' })
    .where('id', '=', sendId)
    .where((eb) =>
      eb.or([eb.and([eb('status', '=', 'scheduled'), eb('send_at', '<=', dbNow({ seconds: 1 }))]), eb('status', '=', 'preparing')]),
    )
    .returning('id')
    .executeTakeFirst();
  if (!started) {
    const row = await db.selectFrom('sends').select(['status']).where('id', '=', sendId).executeTakeFirst();
    return row?.status === 'scheduled' ? 'not_due' : 'not_scheduled';
  }
  return db.transaction().execute(async (trx) => {
    const send = await trx.selectFrom('sends').selectAll().where('id', '=', sendId).forUpdate().executeTakeFirstOrThrow();
    if (send.status !== 'preparing') return 'not_scheduled'; // cancelled meanwhile
    const segment = send.segment as unknown as Segment;
    const site = await getSiteSettings(trx);
    // Which version of the post each language gets (translations), and the gate of each.
    const plan = await sendPlan(trx, send.post_id, site.language);
    // From and Reply-To of the segment's (first) newsletter, fixed now: a retried batch is the same payload.
    const sender = await senderFor(
      trx,
      { siteUrl: ctx.siteUrl, mailFrom: ctx.from },
      segment.newsletters.map((n) => n.id),
    );
    const exclude = await earlierSendsOf(trx, send.post_id, sendId);
    // Which members read the whole post: the same rule as canRead (content/access.ts), applied to
    // the version their language gets.
    const variant = await variantSql(trx, plan, VARIANT_CODE);
    const candidates = trx
      .selectFrom('members as m')
      .where(recipientWhere(segment, exclude))
      .select(['m.id', 'm.email', 'm.name', 'm.referral_code', variant.as('variant'), deliveryLanguageSql(plan).as('language')]);
    const test = send.subjects ? { subjects: send.subjects.length, sample: send.test_sample ?? 0.2 } : null;
    const batchSize = sql.lit(MAX_BATCH);
    // Without a test: batches of member ids in order, as ever. With one, the sample is the first
    // round(share × segment) members in the order of a hash of send and member id (random, and
    // the same if this statement runs again), their subjects dealt in turn; its batches come
    // first, then the rest's (subject null), which are held until the winner.
    const picked = test
      ? sql`
      drawn as (
        select c.*, row_number() over (order by md5(${sendId}::text || ':' || c.id::text)) - 1 as draw,
               round(${test.sample}::float8 * count(*) over ())::bigint as sample_size
          from candidates c
      ),
      parted as (
        select d.*, case when d.draw < d.sample_size then (d.draw % ${sql.lit(test.subjects)})::smallint end as subject from drawn d
      ),
      picked as materialized (
        select p.*,
               case when p.subject is null then (p.sample_size + ${sql.lit(MAX_BATCH - 1)}) / ${batchSize} else 0 end
                 + (row_number() over (partition by p.subject is null order by p.id) - 1) / ${batchSize} as batch
          from parted p
      ),`
      : sql`
      picked as materialized (
        select c.*, null::smallint as subject, (row_number() over (order by c.id) - 1) / ${batchSize} as batch from candidates c
      ),`;
    // One statement: the snapshot (materialised once), its deliveries, and its batches as
    // ranges of member ids.
    const result = await sql<{ batches: string; recipients: string; languages: string[] }>`
      with candidates as (${candidates}),
      ${picked}
      ins as (
        insert into deliveries (send_id, member_id, email, name, referral_code, variant, subject, language)
        select ${sendId}, id, email, name, referral_code, variant::"char", subject, language from picked
      ),
      made as (
        insert into send_batches (send_id, batch, first_member, last_member, size, part, status)
        select ${sendId}, batch, min(id), max(id), count(*),
               case when ${test !== null} then case when bool_and(subject is null) then 'rest' else 'sample' end else 'all' end,
               case when ${test !== null} and bool_and(subject is null) then 'held' else 'pending' end
          from picked group by batch
        returning size, part
      )
      select count(*) as batches, coalesce(sum(size), 0) as recipients,
             (select coalesce(array_agg(distinct language), '{}') from picked where language is not null) as languages
        from made
    `.execute(trx);
    // The post rendered once per language present (and variant), after the snapshot told which.
    const rendered = await renderSend(trx, ctx.siteUrl, plan, result.rows[0]?.languages ?? []);
    // Every link of the send, once, numbered: the click redirect goes only to these.
    const links = collectLinks(allRenderings(rendered).flatMap((r) => [...r.full.html.texts, ...(r.preview?.html.texts ?? [])]));
    if (links.length > 0) {
      await trx
        .insertInto('send_links')
        .values(links.map((url, link) => ({ send_id: sendId, link, url })))
        .execute();
      // Links to this site's posts: a click on one is also that member reading the post.
      await sql`
        update send_links l set post_id = p.id
          from posts p
         where l.send_id = ${sendId} and l.url like ${`${ctx.siteUrl}/posts/%`} and p.slug = split_part(split_part(substr(l.url, ${ctx.siteUrl.length + 8}), '?', 1), '#', 1)
      `.execute(trx);
    }
    const batches = Number(result.rows[0]?.batches ?? 0);
    const recipients = Number(result.rows[0]?.recipients ?? 0);
    const nobody = recipients === 0;
    await trx
      .updateTable('sends')
      .set({
        status: nobody ? 'sent' : 'sending',
        rendered: JSON.stringify(rendered),
        from_address: sender.from,
        reply_to: sender.replyTo,
        track_members: site.trackPerMember,
        recipients,
        batches,
        prepared_at: dbNow(),
        ...(nobody ? { finished_at: dbNow() } : {}),
      })
      .where('id', '=', sendId)
      .execute();
    if (!nobody) await enqueueLanes(trx, sendId, batches);
    if (!nobody && test) {
      // The verdict is a job at the end of the wait: it survives restarts (recovery.ts re-adds it if lost).
      const endsAt = new Date(Date.now() + (send.test_wait_seconds ?? 4 * 3600) * 1000);
      await trx.updateTable('sends').set({ test_ends_at: endsAt }).where('id', '=', sendId).execute();
      await enqueueWinnerJob(trx, sendId, endsAt);
    }
    return 'prepared' as const;
  });
}
