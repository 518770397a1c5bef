import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Custom member fields (domain/members/fields.ts): what staff ask members beyond name and email.
    -- key is the slug the API, CSV columns and members.fields use; archived fields keep their values
    -- but are hidden from forms and exports.
    create table member_fields (
      id bigserial primary key,
      key text not null unique check (key ~ '^[a-z][a-z0-9_]{0,39}$'),
      label text not null,
      type text not null check (type in ('text', 'number', 'date', 'choice', 'boolean')),
      options text[] not null default '{}',
      member_editable boolean not null default false,
      sort_order int not null default 0,
      archived_at timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    );

    -- The values, one jsonb object per member ({key: value}), beside the member's other columns.
    -- Chosen over a (member, field, value) table: the API, lists and exports read a member's values
    -- with the row they already read (no join, no aggregation per page), and a filter is one
    -- containment test the GIN index answers with a bitmap scan (bench/member-fields.ts, 1M members
    -- on a loaded 2-core machine: a 1% choice counts in 226 ms instead of 860 ms by a full scan, two
    -- fields together in 178 ms instead of 984 ms; see bench/RESULTS.md). jsonb_ops (not
    -- jsonb_path_ops) so that "is set" (fields ? 'key') can use the index too; for a key most
    -- members have, the planner rightly prefers the scan.
    -- Adding a column with a constant default rewrites nothing (PostgreSQL >= 11).
    alter table members add column fields jsonb not null default '{}';
    create index members_fields_idx on members using gin (fields);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index members_fields_idx; alter table members drop column fields; drop table member_fields;`.execute(db);
}
