import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

/**
 * The members list at a million members (bench/members-list.ts).
 *
 * Name search pages by (lower(name), id) in the "C" collation: with the id in the index, a page
 * of a common prefix ("ana": 83,000 of the demo's million) is an index range read in order and
 * cut at the page size, never a sort of every match (178 ms before).
 *
 * Counts: `member_facets` holds how many members there are per (newsletter, status, platform,
 * tier); newsletter_id 0 counts every member once whatever their newsletters. A count of any
 * combination of those four filters sums a few of its rows. Measured first (1M members, 400,000
 * subscriptions of one newsletter): the semi-join of members_status_platform_idx (287,000
 * entries for active + instagram) with member_newsletters_newsletter_idx (400,000 entries) is a
 * parallel hash join of 187 ms on a quiet machine; a merge join of the same two index-only scans
 * is no better (both read every entry), and partial indexes per newsletter cannot hold another
 * table's status. Reading every entry is the cost, so the count is kept instead of computed.
 * Kept by statement-level triggers with transition tables: a bulk import adds one grouped upsert
 * per statement, not one per row. The member_newsletters triggers lock the members they read
 * (FOR SHARE), so a concurrent status change waits and the two deltas see each other. A deleted
 * member is taken out by a row trigger before the delete (its subscriptions are cascaded away
 * afterwards, when their member can no longer be read).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create index members_name_search_idx on members ((lower(name) collate "C"), id) where name is not null;
    drop index if exists members_name_prefix_idx;

    create table member_facets (
      newsletter_id bigint not null,
      status text not null,
      source_platform text not null,
      tier_id bigint not null,
      members bigint not null,
      primary key (newsletter_id, status, source_platform, tier_id)
    );

    create function member_facets_members_insert() returns trigger language plpgsql as $$
    begin
      insert into member_facets (newsletter_id, status, source_platform, tier_id, members)
      select 0, status, source_platform, tier_id, count(*) from new_rows group by 2, 3, 4
      on conflict (newsletter_id, status, source_platform, tier_id)
      do update set members = member_facets.members + excluded.members;
      return null;
    end $$;

    create function member_facets_members_update() returns trigger language plpgsql as $$
    begin
      insert into member_facets (newsletter_id, status, source_platform, tier_id, members)
      select nl, s, p, t, sum(d) from (
        with changed as (
          select o.id, o.status as os, o.source_platform as op, o.tier_id as ot, n.status as ns, n.source_platform as np, n.tier_id as nt
          from old_rows o join new_rows n on n.id = o.id
          where (o.status, o.source_platform, o.tier_id) is distinct from (n.status, n.source_platform, n.tier_id)
        )
        select 0::bigint as nl, os as s, op as p, ot as t, -1 as d from changed
        union all select 0, ns, np, nt, 1 from changed
        union all select mn.newsletter_id, os, op, ot, -1 from changed c join member_newsletters mn on mn.member_id = c.id
        union all select mn.newsletter_id, ns, np, nt, 1 from changed c join member_newsletters mn on mn.member_id = c.id
      ) x
      group by 1, 2, 3, 4
      having sum(d) <> 0
      on conflict (newsletter_id, status, source_platform, tier_id)
      do update set members = member_facets.members + excluded.members;
      return null;
    end $$;

    create function member_facets_member_delete() returns trigger language plpgsql as $$
    begin
      insert into member_facets (newsletter_id, status, source_platform, tier_id, members)
      select 0, old.status, old.source_platform, old.tier_id, -1
      union all
      select newsletter_id, old.status, old.source_platform, old.tier_id, -1 from member_newsletters where member_id = old.id
      on conflict (newsletter_id, status, source_platform, tier_id)
      do update set members = member_facets.members + excluded.members;
      return old;
    end $$;

    create function member_facets_subscriptions() returns trigger language plpgsql as $$
    begin
      if tg_op in ('DELETE', 'UPDATE') then
        insert into member_facets (newsletter_id, status, source_platform, tier_id, members)
        select o.newsletter_id, m.status, m.source_platform, m.tier_id, -count(*)
        from old_rows o join (select id, status, source_platform, tier_id from members where id in (select member_id from old_rows) for share) m on m.id = o.member_id
        group by 1, 2, 3, 4
        on conflict (newsletter_id, status, source_platform, tier_id)
        do update set members = member_facets.members + excluded.members;
      end if;
      if tg_op in ('INSERT', 'UPDATE') then
        insert into member_facets (newsletter_id, status, source_platform, tier_id, members)
        select n.newsletter_id, m.status, m.source_platform, m.tier_id, count(*)
        from new_rows n join (select id, status, source_platform, tier_id from members where id in (select member_id from new_rows) for share) m on m.id = n.member_id
        group by 1, 2, 3, 4
        on conflict (newsletter_id, status, source_platform, tier_id)
        do update set members = member_facets.members + excluded.members;
      end if;
      return null;
    end $$;

    create function member_facets_truncated() returns trigger language plpgsql as $$
    begin
      if tg_table_name = 'members' then delete from member_facets;
      else delete from member_facets where newsletter_id <> 0;
      end if;
      return null;
    end $$;

    create trigger member_facets_insert after insert on members
      referencing new table as new_rows for each statement execute function member_facets_members_insert();
    create trigger member_facets_update after update on members
      referencing old table as old_rows new table as new_rows for each statement execute function member_facets_members_update();
    create trigger member_facets_delete before delete on members
      for each row execute function member_facets_member_delete();
    create trigger member_facets_truncate after truncate on members
      for each statement execute function member_facets_truncated();
    create trigger member_facets_subscribe after insert on member_newsletters
      referencing new table as new_rows for each statement execute function member_facets_subscriptions();
    create trigger member_facets_unsubscribe after delete on member_newsletters
      referencing old table as old_rows for each statement execute function member_facets_subscriptions();
    create trigger member_facets_move after update on member_newsletters
      referencing old table as old_rows new table as new_rows for each statement execute function member_facets_subscriptions();
    create trigger member_facets_subscriptions_truncate after truncate on member_newsletters
      for each statement execute function member_facets_truncated();

    insert into member_facets (newsletter_id, status, source_platform, tier_id, members)
    select 0, status, source_platform, tier_id, count(*) from members group by 2, 3, 4
    union all
    select mn.newsletter_id, m.status, m.source_platform, m.tier_id, count(*)
    from member_newsletters mn join members m on m.id = mn.member_id group by 1, 2, 3, 4;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop trigger member_facets_insert on members;
    drop trigger member_facets_update on members;
    drop trigger member_facets_delete on members;
    drop trigger member_facets_truncate on members;
    drop trigger member_facets_subscribe on member_newsletters;
    drop trigger member_facets_unsubscribe on member_newsletters;
    drop trigger member_facets_move on member_newsletters;
    drop trigger member_facets_subscriptions_truncate on member_newsletters;
    drop function member_facets_members_insert(), member_facets_members_update(), member_facets_member_delete(),
      member_facets_subscriptions(), member_facets_truncated();
    drop table member_facets;
    create index members_name_prefix_idx on members ((lower(name) collate "C")) where name is not null;
    drop index members_name_search_idx;
  `.execute(db);
}
