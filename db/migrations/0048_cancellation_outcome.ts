import { sql, type Kysely } from 'kysely';

// Frozen in time: this file never imports app code and is never edited after release.

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    -- Whether a member's cancellation choice reached Stripe (domain/billing/cancel.ts): applied_at
    -- when the job made it; failed_at and failure (Stripe's reason) when Stripe refused it or the
    -- job ran out of attempts. Staff are alerted of a failure; nothing is dropped silently.
    alter table cancellations
      add column applied_at timestamptz,
      add column failed_at timestamptz,
      add column failure text;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table cancellations drop column applied_at, drop column failed_at, drop column failure;`.execute(db);
}
