import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Set when the mail provider stops a send (a 429, a 5xx, no answer) and cleared by the next
    -- batch it accepts: the live feed's "paused by the provider" and "resumed" milestones are the
    -- moments this flips, so a long outage is one fact, not one per retried batch.
    alter table sends add column provider_paused_at timestamptz;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table sends drop column provider_paused_at`.execute(db);
}
