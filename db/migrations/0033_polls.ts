import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- One-click polls (domain/polls): a question and 2 to 6 answers, placed in a post as {{poll:<id>}}.
    create table polls (
      id bigserial primary key,
      question text not null,
      answers text[] not null check (cardinality(answers) between 2 and 6),
      status text not null default 'open' check (status in ('open', 'closed')),
      -- After this moment the poll is closed whatever its status says.
      closes_at timestamptz,
      created_by bigint references staff_users (id) on delete set null,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );

    -- A member's answer: one row per member and poll, so answering twice changes it, never counts
    -- twice. Results group by answer on the primary key's leading column.
    create table poll_votes (
      poll_id bigint not null references polls (id) on delete cascade,
      member_id bigint not null references members (id) on delete cascade,
      answer int not null check (answer between 0 and 5),
      -- How the answer came: 'email' (the one-click link) or 'web' (the form on the post).
      channel text not null check (channel in ('email', 'web')),
      send_id bigint,
      changes int not null default 0,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      primary key (poll_id, member_id)
    );
    create index poll_votes_member_idx on poll_votes (member_id);

    -- An answer is an engagement event: kind 'poll', its link column the answer's number.
    alter table engagement_events drop constraint engagement_events_kind_check;
    alter table engagement_events add constraint engagement_events_kind_check check (kind in ('open', 'click', 'read', 'view', 'poll'));
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    delete from engagement_events where kind = 'poll';
    alter table engagement_events drop constraint engagement_events_kind_check;
    alter table engagement_events add constraint engagement_events_kind_check check (kind in ('open', 'click', 'read', 'view'));
    drop table poll_votes; drop table polls;
  `.execute(db);
}
