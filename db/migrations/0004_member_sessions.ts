import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Magic links (and their 6-digit codes), stored hashed. Valid 24 h; usable a few times within
    -- 10 minutes of the first use, so a mail scanner that opens the link first does not burn it.
    create table member_sign_ins (
      id bigint generated always as identity primary key,
      member_id bigint not null references members (id) on delete cascade,
      token_hash text not null unique,
      code_hash text not null,
      return_to text,
      created_at timestamptz not null default now(),
      expires_at timestamptz not null,
      first_used_at timestamptz,
      uses integer not null default 0,
      code_attempts integer not null default 0
    );
    create index member_sign_ins_member_idx on member_sign_ins (member_id, created_at desc);

    create table member_sessions (
      id bigint generated always as identity primary key,
      token_hash text not null unique,
      member_id bigint not null references members (id) on delete cascade,
      created_at timestamptz not null default now(),
      last_seen_at timestamptz not null default now(),
      expires_at timestamptz not null
    );
    create index member_sessions_member_idx on member_sessions (member_id);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table member_sessions, member_sign_ins;`.execute(db);
}
