import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Complimentary access: staff put a member on a tier, optionally until a date, after which
    -- the member returns to the free tier (a job checks hourly).
    alter table members add column comp_until timestamptz;
    alter table members add column tier_source text not null default 'default' check (tier_source in ('default', 'comp', 'stripe'));
    create index members_comp_until_idx on members (comp_until) where comp_until is not null;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table members drop column comp_until, drop column tier_source;`.execute(db);
}
