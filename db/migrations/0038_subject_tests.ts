import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Subject tests: a send with 2–4 subject lines. A sample of the segment (test_sample, a share)
    -- receives the subjects split evenly; test_wait_seconds after preparation (test_ends_at) the
    -- winner goes to the rest. winner is set once, by the winner job or by staff.
    alter table sends
      add column subjects text[] check (subjects is null or cardinality(subjects) between 2 and 4),
      add column test_sample real check (test_sample is null or (test_sample > 0 and test_sample < 1)),
      add column test_wait_seconds int check (test_wait_seconds is null or test_wait_seconds between 1 and 604800),
      add column test_ends_at timestamptz,
      add column winner smallint,
      add column winner_rule text,
      add column winner_at timestamptz,
      add column winner_by bigint references staff_users (id) on delete set null;

    -- The subject a sample delivery carries (its index in sends.subjects); null for the rest, who
    -- get the winner. Nullable without a default: adding it rewrites nothing.
    alter table deliveries add column subject smallint;

    -- A test send's batches are either the sample's or the rest's (a batch is a range of member ids,
    -- and the two groups interleave, so the part says which deliveries of the range are its own).
    -- The rest's batches are held until the winner is known.
    alter table send_batches add column part text not null default 'all' check (part in ('all', 'sample', 'rest'));
    alter table send_batches drop constraint send_batches_status_check;
    alter table send_batches add constraint send_batches_status_check
      check (status in ('pending', 'posting', 'posted', 'failed', 'cancelled', 'held')) not valid;
    alter table send_batches validate constraint send_batches_status_check;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    update send_batches set status = 'cancelled' where status = 'held';
    alter table send_batches drop constraint send_batches_status_check;
    alter table send_batches add constraint send_batches_status_check check (status in ('pending', 'posting', 'posted', 'failed', 'cancelled'));
    alter table send_batches drop column part;
    alter table deliveries drop column subject;
    alter table sends drop column subjects, drop column test_sample, drop column test_wait_seconds, drop column test_ends_at,
      drop column winner, drop column winner_rule, drop column winner_at, drop column winner_by;
  `.execute(db);
}
