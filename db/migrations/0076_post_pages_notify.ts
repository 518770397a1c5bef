import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

/**
 * A comment or a reaction changes one post's page, not every page: these triggers replace
 * 0056's on `comments` and `reactions` and NOTIFY `hearth_pages` with `post:<id>` for each post
 * a statement touched, so each web process drops that post's pages (and its kept conversation)
 * and keeps the rest. The list pages (home, archive, tags, RSS) show no comment or reaction
 * counts, so they stay. Statement-level with transition tables (one trigger per event: Postgres
 * allows transition tables on single-event triggers only); a statement over more than 100 posts
 * (an import, an erased member's comments) says `comments`/`reactions`, which empties everything.
 * Postgres folds identical payloads of one transaction and delivers them at commit.
 */
const TABLES = ['comments', 'reactions'];

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function hearth_post_pages_changed() returns trigger language plpgsql as $$
    declare
      ids bigint[];
      id bigint;
    begin
      if tg_op = 'DELETE' then
        select array_agg(distinct post_id) into ids from old_rows;
      elsif tg_op = 'UPDATE' then
        select array_agg(distinct post_id) into ids
        from (select post_id from new_rows union all select post_id from old_rows) r;
      else
        select array_agg(distinct post_id) into ids from new_rows;
      end if;
      if ids is null then
        return null;
      end if;
      if cardinality(ids) > 100 then
        perform pg_notify('hearth_pages', tg_table_name);
        return null;
      end if;
      foreach id in array ids loop
        perform pg_notify('hearth_pages', 'post:' || id);
      end loop;
      return null;
    end $$;
  `.execute(db);
  for (const table of TABLES) {
    await sql`drop trigger ${sql.raw(`${table}_pages_changed`)} on ${sql.table(table)}`.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_post_pages_inserted`)} after insert on ${sql.table(table)}
      referencing new table as new_rows
      for each statement execute function hearth_post_pages_changed();
    `.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_post_pages_updated`)} after update on ${sql.table(table)}
      referencing old table as old_rows new table as new_rows
      for each statement execute function hearth_post_pages_changed();
    `.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_post_pages_deleted`)} after delete on ${sql.table(table)}
      referencing old table as old_rows
      for each statement execute function hearth_post_pages_changed();
    `.execute(db);
    // A truncate has no rows to name: every page goes (0056's function).
    await sql`
      create trigger ${sql.raw(`${table}_pages_truncated`)} after truncate on ${sql.table(table)}
      for each statement execute function hearth_pages_changed();
    `.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of TABLES) {
    for (const suffix of ['post_pages_inserted', 'post_pages_updated', 'post_pages_deleted', 'pages_truncated'])
      await sql`drop trigger ${sql.raw(`${table}_${suffix}`)} on ${sql.table(table)}`.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_pages_changed`)}
      after insert or update or delete or truncate on ${sql.table(table)}
      for each statement execute function hearth_pages_changed();
    `.execute(db);
  }
  await sql`drop function hearth_post_pages_changed()`.execute(db);
}
