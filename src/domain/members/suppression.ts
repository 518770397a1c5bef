import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database, SuppressionReason } from '../../../db/types.ts';
import { leaveAutomationsByEmail } from '../automations/enter.ts';
import { normaliseEmail } from './email.ts';

/**
 * Suppressed addresses are never mailed. They are kept as a SHA-256 of the normalised address,
 * so a suppression outlives the member's deletion without keeping the address itself.
 */
export function emailHash(email: string): string {
  return createHash('sha256').update(normaliseEmail(email)).digest('hex');
}

export async function isSuppressed(db: Kysely<Database>, email: string): Promise<SuppressionReason | null> {
  const row = await db.selectFrom('suppressions').select('reason').where('email_hash', '=', emailHash(email)).executeTakeFirst();
  return row?.reason ?? null;
}

export async function suppress(db: Kysely<Database>, email: string, reason: SuppressionReason): Promise<void> {
  await db
    .insertInto('suppressions')
    .values({ email_hash: emailHash(email), reason })
    .onConflict((oc) => oc.column('email_hash').doNothing())
    .execute();
  await leaveAutomationsByEmail(db, email);
}
