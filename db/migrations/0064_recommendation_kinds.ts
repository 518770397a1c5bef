import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- What kind of site a recommendation is (domain/recommendations/kind.ts reads its page's
    -- generator): a Hearth site can be subscribed to in one step from the confirmation page.
    alter table recommendations add column kind text not null default 'other' check (kind in ('hearth', 'ghost', 'other'));
    alter table recommendations add column checked_at timestamptz;

    -- A reader who asked, on the confirmation page, to be subscribed to a recommended Hearth
    -- site: one row per reader and recommendation (asking twice sends once), one job that posts
    -- the address, and nothing else, to that site's /subscribe; the site then sends its own
    -- confirmation email. Gone with the member.
    create table recommendation_subscriptions (
      recommendation_id bigint not null references recommendations (id) on delete cascade,
      member_id bigint not null references members (id) on delete cascade,
      status text not null default 'queued' check (status in ('queued', 'sent', 'failed')),
      last_error text,
      created_at timestamptz not null default now(),
      sent_at timestamptz,
      primary key (recommendation_id, member_id)
    );
    create index recommendation_subscriptions_member_idx on recommendation_subscriptions (member_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    drop table recommendation_subscriptions;
    alter table recommendations drop column kind, drop column checked_at;
  `.execute(db);
}
