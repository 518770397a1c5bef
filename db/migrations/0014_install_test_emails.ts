import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The install checklist's "test email to yourself": one row per request, queued through the
    -- job queue; sent_at is set once the mail provider (or the local outbox) accepted it, error
    -- when it refused it for good.
    create table install_test_emails (
      id bigint generated always as identity primary key,
      staff_user_id bigint references staff_users (id) on delete set null,
      to_address text not null,
      queued_at timestamptz not null default now(),
      sent_at timestamptz,
      error text
    );
    create index install_test_emails_sent_idx on install_test_emails (sent_at) where sent_at is not null;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table install_test_emails;`.execute(db);
}
