import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Last-write detection: an edit names the revision it started from; a stale one is refused.
    alter table posts add column revision integer not null default 1;
    alter table posts add column tags text[] not null default '{}';
    alter table posts add column feature_image text;
    -- Sent by email, never shown on the web.
    alter table posts add column email_only boolean not null default false;
    create index posts_tags_idx on posts using gin (tags);

    -- Visibility "tiers": readable only by members of the named tiers (and staff).
    alter table posts add column tier_ids bigint[] not null default '{}';
    alter table posts drop constraint posts_visibility_check;
    alter table posts add constraint posts_visibility_check check (visibility in ('public', 'members', 'paid', 'tiers'));

    -- Old slugs of a renamed post, so links already shared keep working (301 to the new one).
    create table post_slugs (
      slug text primary key,
      post_id bigint not null references posts (id) on delete cascade
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table post_slugs;
    alter table posts drop constraint posts_visibility_check;
    alter table posts add constraint posts_visibility_check check (visibility in ('public', 'members', 'paid'));
    alter table posts drop column revision, drop column tags, drop column feature_image, drop column email_only, drop column tier_ids;
  `.execute(db);
}
