import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

/**
 * Anonymous pages are kept in each web process's memory (src/web/page-cache.ts) until something
 * they show changes. Every process LISTENs on `hearth_pages`; these triggers NOTIFY it from
 * whatever writes (web, worker, CLI, an import, psql), so no writer has to remember to.
 * Statement-level: a bulk statement notifies once, and Postgres folds identical payloads of one
 * transaction into one notification, delivered at commit (never for a rollback).
 * Tables: what a home, archive, tag, post (with its anonymous conversation), join, links, RSS or
 * sitemap page reads; members and staff users only when a name (shown on comments) changes or
 * one goes (a sign-in writes those rows too, and must not empty every process's cache).
 */
const TABLES = ['posts', 'post_slugs', 'settings', 'tiers', 'newsletters', 'comments', 'reactions', 'polls', 'poll_votes'];

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function hearth_pages_changed() returns trigger language plpgsql as $$
    begin
      perform pg_notify('hearth_pages', tg_table_name);
      return null;
    end $$;
  `.execute(db);
  for (const table of TABLES) {
    await sql`
      create trigger ${sql.raw(`${table}_pages_changed`)}
      after insert or update or delete or truncate on ${sql.table(table)}
      for each statement execute function hearth_pages_changed();
    `.execute(db);
  }
  for (const table of ['members', 'staff_users']) {
    await sql`
      create trigger ${sql.raw(`${table}_pages_changed`)}
      after update of name or delete on ${sql.table(table)}
      for each statement execute function hearth_pages_changed();
    `.execute(db);
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop function hearth_pages_changed() cascade`.execute(db);
}
