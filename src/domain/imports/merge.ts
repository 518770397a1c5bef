/**
 * Imports, phase 3 — the merge: staging (import_rows) into members, newsletters, labels, events
 * and suppressions in ONE set-based transaction that also marks the import done. The rules it
 * applies are in README.md ("The merge rules").
 */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { enqueue } from '../../lib/queue.ts';
import type { ImportRecord } from './read.ts';

export interface MergeCounts {
  imported: number;
  updated: number;
  rejected: number;
  pending: number;
}

/**
 * The merge, in one transaction. Statements, not rows: a temp table holds the file's first row of
 * each address with its member (if any), and every write is an INSERT … SELECT or UPDATE … FROM
 * over it. New members get their ids from the members sequence up front (OVERRIDING SYSTEM VALUE)
 * so their newsletters, labels and events are written by the same statement that inserts them.
 * A referral-code collision (64 random bits; about one chance in 10^7 per million members) fails
 * the transaction; it is simply run again.
 */
export async function mergeStagedRows(conn: Kysely<Database>, record: ImportRecord, rows: number): Promise<MergeCounts> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await conn.transaction().execute((trx) => mergeInTransaction(trx, record, rows));
    } catch (err) {
      const constraint = (err as { constraint?: unknown }).constraint;
      if (attempt < 3 && (err as { code?: unknown }).code === '23505' && constraint === 'members_referral_code_key') continue;
      throw err;
    }
  }
}

async function mergeInTransaction(trx: Transaction<Database>, record: ImportRecord, rows: number): Promise<MergeCounts> {
  const importId = record.id;
  // Losing the last commit of an import to a crash is harmless: the job runs it again.
  await sql`set local synchronous_commit = off`.execute(trx);
  await sql`set local work_mem = '256MB'`.execute(trx);

  const freeTier = await trx.selectFrom('tiers').select('id').where('slug', '=', 'free').executeTakeFirst();
  if (!freeTier) throw new Error('the free tier is missing');
  const newsletterIds = record.newsletter_id
    ? [record.newsletter_id]
    : (await trx.selectFrom('newsletters').select('id').where('is_default', '=', true).execute()).map((n) => n.id);
  const sequence = (await sql<{ name: string }>`select pg_get_serial_sequence('members', 'id') as name`.execute(trx)).rows[0]!.name;
  // Hashing every address costs a second per million; skip it while nothing is suppressed.
  const anySuppressed = (await trx.selectFrom('suppressions').select('email_hash').limit(1).execute()).length > 0;
  const suppressionJoin = anySuppressed
    ? sql`left join suppressions s on s.email_hash = encode(sha256(convert_to(f.email, 'UTF8')), 'hex')`
    : sql`left join (select null::text as reason) s on false`;

  // The first row of each address (emails are already lower-cased by mapRow), with its member.
  // New ids are drawn in file order (a sorted subquery is never flattened), so members list in
  // the order of the file.
  await sql`
    create temp table import_batch on commit drop as
    select b.*, case when b.member_id is null then nextval(${sequence}::regclass) end as new_id
    from (
      select f.*, m.id as member_id, s.reason as suppressed
      from (
        select distinct on (r.email) r.row_number, r.email, r.name, r.status, r.created_at, r.labels,
               r.utm_source, r.utm_medium, r.utm_campaign, r.referrer
        from import_rows r
        where r.import_id = ${importId}
        order by r.email, r.row_number
      ) f
      left join members m on lower(m.email) = f.email
      ${suppressionJoin}
      order by f.row_number
    ) b
  `.execute(trx);
  await sql`analyze import_batch`.execute(trx);

  await sql`
    insert into import_rejections (import_id, row_number, email, reason)
    select r.import_id, r.row_number, r.email, 'duplicate of row ' || b.row_number
    from import_rows r join import_batch b on b.email = r.email
    where r.import_id = ${importId} and r.row_number <> b.row_number
  `.execute(trx);

  await sql`
    insert into labels (name)
    select distinct on (lower(l.name)) l.name
    from import_batch b cross join unnest(b.labels) as l(name)
    where cardinality(b.labels) > 0
    order by lower(l.name), b.row_number
    on conflict ((lower(name))) do nothing
  `.execute(trx);

  const event = JSON.stringify({ import_id: importId });
  const created = await sql<{ imported: string; pending: string }>`
    with inserted as (
      insert into members (id, email, name, status, tier_id, source_platform, utm_source, utm_medium, utm_campaign, referrer,
                           referral_code, created_at, updated_at, confirmed_at, import_id)
      overriding system value
      select b.new_id, b.email, b.name, n.status, ${freeTier.id}, 'import', b.utm_source, b.utm_medium, b.utm_campaign, b.referrer,
             translate(left(md5(gen_random_uuid()::text), 16), '01', 'yz'),
             coalesce(b.created_at, now()), now(),
             case when n.status = 'active' then coalesce(b.created_at, now()) end,
             ${importId}
      from import_batch b
      cross join lateral (
        select case
          when b.status = 'complained' or b.suppressed = 'complained' then 'complained'
          when b.status = 'bounced' or b.suppressed = 'bounced' then 'bounced'
          when b.status = 'unsubscribed' or b.suppressed is not null then 'unsubscribed'
          when ${record.mark_confirmed} then 'active'
          else 'pending'
        end as status
      ) n
      where b.member_id is null
      -- A reader who subscribed since the batch was read keeps their row; this one is skipped.
      on conflict ((lower(email))) do nothing
      returning id, status
    ), subscribed as (
      insert into member_newsletters (member_id, newsletter_id)
      select i.id, nl.id from inserted i cross join unnest(${newsletterIds}::bigint[]) as nl(id)
      where i.status in ('active', 'pending')
    ), labelled as (
      insert into member_labels (member_id, label_id)
      select i.id, l.id
      from inserted i
      join import_batch b on b.new_id = i.id and cardinality(b.labels) > 0
      cross join unnest(b.labels) as x(name)
      join labels l on lower(l.name) = lower(x.name)
    ), logged as (
      insert into events (member_id, type, data) select i.id, 'imported', ${event}::jsonb from inserted i
    )
    select count(*) as imported, count(*) filter (where status = 'pending') as pending from inserted
  `.execute(trx);

  const matched = await sql<{ updated: string }>`
    with matched as (
      select b.member_id, b.name, b.status, b.labels from import_batch b where b.member_id is not null
    ), changed as (
      -- Never downgraded or re-activated, except by a bounce or complaint (facts, not choices);
      -- a complaint outranks a bounce. Written against the row's current status, not the batch's
      -- snapshot, so a concurrent unsubscribe is not undone.
      update members m set
        status = case
          when x.status = 'complained' then 'complained'
          when x.status = 'bounced' and m.status <> 'complained' then 'bounced'
          else m.status end,
        name = case when coalesce(m.name, '') = '' then coalesce(x.name, m.name) else m.name end,
        updated_at = now()
      from matched x
      where m.id = x.member_id
        and ((x.status = 'complained' and m.status <> 'complained')
          or (x.status = 'bounced' and m.status not in ('bounced', 'complained'))
          or (coalesce(m.name, '') = '' and x.name is not null))
      returning m.id, m.status
    ), resulting as (
      select x.member_id, coalesce(c.status, m.status) as status, x.labels
      from matched x join members m on m.id = x.member_id left join changed c on c.id = x.member_id
    ), subscribed as (
      insert into member_newsletters (member_id, newsletter_id)
      select r.member_id, nl.id from resulting r cross join unnest(${newsletterIds}::bigint[]) as nl(id)
      where r.status in ('active', 'pending')
      on conflict do nothing
    ), labelled as (
      insert into member_labels (member_id, label_id)
      select r.member_id, l.id
      from resulting r cross join unnest(r.labels) as x(name) join labels l on lower(l.name) = lower(x.name)
      where cardinality(r.labels) > 0
      on conflict do nothing
    ), logged as (
      insert into events (member_id, type, data) select x.member_id, 'imported', ${event}::jsonb from matched x
    )
    select count(*) as updated from matched
  `.execute(trx);

  await sql`
    insert into suppressions (email_hash, reason)
    select distinct on (1) encode(sha256(convert_to(b.email, 'UTF8')), 'hex'), b.status
    from import_batch b where b.status in ('bounced', 'complained')
    order by 1, b.status desc
    on conflict (email_hash) do nothing
  `.execute(trx);

  const rejected = await trx
    .selectFrom('import_rejections')
    .select(sql<string>`count(*)`.as('n'))
    .where('import_id', '=', importId)
    .executeTakeFirstOrThrow();

  const counts: MergeCounts = {
    imported: Number(created.rows[0]?.imported ?? 0),
    updated: Number(matched.rows[0]?.updated ?? 0),
    rejected: Number(rejected.n),
    pending: Number(created.rows[0]?.pending ?? 0),
  };
  await trx
    .updateTable('imports')
    .set({
      status: 'done',
      rows,
      imported: counts.imported,
      updated: counts.updated,
      rejected: counts.rejected,
      bytes_done: sql<number>`bytes` as unknown as number,
      error: null,
      finished_at: new Date(),
    })
    .where('id', '=', importId)
    .execute();
  await trx.deleteFrom('import_chunks').where('import_id', '=', importId).execute();
  if (record.send_confirmation && counts.pending > 0) {
    await enqueue(trx, 'import_confirmations', { importId }, { jobKey: `import_confirmations:${importId}`, maxAttempts: 10 });
  }
  return counts;
}
