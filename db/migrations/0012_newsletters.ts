import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Newsletters managed by staff: each has its own sender (name, from address, reply-to; null
    -- means the site's), and can be archived: an archived newsletter keeps its members and its
    -- sends but takes no new subscribers.
    alter table newsletters
      add column sender_name text check (sender_name is null or length(sender_name) between 1 and 100),
      add column sender_email text check (sender_email is null or length(sender_email) between 3 and 254),
      add column reply_to text check (reply_to is null or length(reply_to) between 3 and 254),
      add column archived_at timestamptz,
      add column updated_at timestamptz not null default now();

    -- One default at most: keep the first (by order) where an install had several.
    update newsletters set is_default = false
     where is_default
       and id <> (select id from newsletters where is_default order by sort_order, id limit 1);
    create unique index newsletters_one_default on newsletters (is_default) where is_default;
    -- The default is the newsletter a form without a choice subscribes to: never an archived one.
    alter table newsletters add constraint newsletters_default_open check (not (is_default and archived_at is not null));

    -- A send's Reply-To, fixed with its From when it is prepared (a retried batch is the same payload).
    alter table sends add column reply_to text;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    alter table sends drop column reply_to;
    alter table newsletters drop constraint newsletters_default_open;
    drop index newsletters_one_default;
    alter table newsletters drop column sender_name, drop column sender_email, drop column reply_to,
      drop column archived_at, drop column updated_at;
  `.execute(db);
}
