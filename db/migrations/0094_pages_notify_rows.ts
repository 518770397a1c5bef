import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

/**
 * A statement that changes no row changes no page. 0056's statement-level triggers notified
 * `hearth_pages` for every statement, rows or not, and the worker's every-minute
 * `update posts set status = 'published' where status = 'scheduled' and published_at <= now()`
 * touches none almost always: every web process emptied its whole page cache once a minute.
 * These triggers read the statement's transition table and notify only when it holds a row
 * (one trigger per event: Postgres allows transition tables on single-event triggers only).
 * A truncate has no rows to name and keeps 0056's trigger. `comments` and `reactions` have 0076's
 * per-post triggers, which already say nothing for no rows; `members` and `staff_users` keep
 * 0056's `update of name` triggers (transition tables cannot go with a column list, and a name
 * is written only when it is given).
 */
const TABLES = ['posts', 'post_slugs', 'settings', 'tiers', 'newsletters', 'polls', 'poll_votes'];

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function hearth_pages_rows_changed() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        if not exists (select 1 from old_rows) then
          return null;
        end if;
      elsif not exists (select 1 from new_rows) then
        return null;
      end if;
      perform pg_notify('hearth_pages', tg_table_name);
      return null;
    end $$;
  `.execute(db);
  for (const table of TABLES) {
    await sql`drop trigger ${sql.raw(`${table}_pages_changed`)} on ${sql.table(table)}`.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_pages_inserted`)} after insert on ${sql.table(table)}
      referencing new table as new_rows
      for each statement execute function hearth_pages_rows_changed();
    `.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_pages_updated`)} after update on ${sql.table(table)}
      referencing new table as new_rows
      for each statement execute function hearth_pages_rows_changed();
    `.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_pages_deleted`)} after delete on ${sql.table(table)}
      referencing old table as old_rows
      for each statement execute function hearth_pages_rows_changed();
    `.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_pages_truncated`)} after truncate on ${sql.table(table)}
      for each statement execute function hearth_pages_changed();
    `.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of TABLES) {
    for (const suffix of ['pages_inserted', 'pages_updated', 'pages_deleted', 'pages_truncated'])
      await sql`drop trigger ${sql.raw(`${table}_${suffix}`)} on ${sql.table(table)}`.execute(db);
    await sql`
      create trigger ${sql.raw(`${table}_pages_changed`)}
      after insert or update or delete or truncate on ${sql.table(table)}
      for each statement execute function hearth_pages_changed();
    `.execute(db);
  }
  await sql`drop function hearth_pages_rows_changed()`.execute(db);
}
