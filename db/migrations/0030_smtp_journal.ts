import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- The SMTP adapter's journal (src/lib/mailer/smtp.ts). SMTP has no idempotency keys, so each
    -- message gets a deterministic Message-ID and, the moment the relay accepts (or refuses) it,
    -- a row here, committed before the batch is acknowledged. A retried batch skips the messages
    -- found here: only a crash between the relay's answer and this row's commit repeats one.
    create table smtp_journal (
      message_id text primary key,
      idempotency_key text not null,
      status text not null check (status in ('accepted', 'rejected')),
      -- The relay's reply (250 … queued as …, or the 5xx), for the outcome of a replay.
      response text not null default '',
      created_at timestamptz not null default now()
    );
    -- Pruned by the maintenance job once no retry can need the row any more.
    create index smtp_journal_created_at on smtp_journal (created_at);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table smtp_journal`.execute(db);
}
