import type { Kysely } from 'kysely';
import type { Database, StaffUser } from '../../../db/types.ts';
import { hashToken, randomToken } from '../../lib/tokens.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Staff sessions. The cookie holds a random token; the database holds only its SHA-256, so a
 * leaked table opens no session. A session lives SESSION_DAYS after its last use (sliding),
 * extended at most once an hour to keep reads cheap; sign-out deletes the row.
 */
export const SESSION_DAYS = 14;
export const SESSION_COOKIE = 'hearth_staff';

export type SessionStaffUser = Pick<StaffUser, 'id' | 'email' | 'name' | 'role'>;

export async function createStaffSession(db: Kysely<Database>, staffUserId: string): Promise<{ token: string; expiresAt: Date }> {
  const token = randomToken();
  const row = await db
    .insertInto('staff_sessions')
    .values({
      token_hash: hashToken(token),
      staff_user_id: staffUserId,
      expires_at: dbNow({ days: SESSION_DAYS }),
    })
    .returning('expires_at')
    .executeTakeFirstOrThrow();
  return { token, expiresAt: row.expires_at };
}

/**
 * The staff user behind a session token, or undefined when unknown, expired or disabled.
 * `renewedUntil` is set when this use extended the session: the caller re-sets the cookie.
 */
export async function staffFromSession(
  db: Kysely<Database>,
  token: string,
): Promise<{ staff: SessionStaffUser; renewedUntil: Date | null } | undefined> {
  if (token.length < 20 || token.length > 100) return undefined;
  const tokenHash = hashToken(token);
  const row = await db
    .selectFrom('staff_sessions as s')
    .innerJoin('staff_users as u', 'u.id', 's.staff_user_id')
    .select(['u.id', 'u.email', 'u.name', 'u.role', 's.last_seen_at'])
    .where('s.token_hash', '=', tokenHash)
    .where('s.expires_at', '>', dbNow())
    .where('u.disabled_at', 'is', null)
    .executeTakeFirst();
  if (!row) return undefined;
  let renewedUntil: Date | null = null;
  if (Date.now() - row.last_seen_at.getTime() > 3_600_000) {
    const renewed = await db
      .updateTable('staff_sessions')
      .set({
        last_seen_at: dbNow(),
        expires_at: dbNow({ days: SESSION_DAYS }),
      })
      .where('token_hash', '=', tokenHash)
      .returning('expires_at')
      .executeTakeFirst();
    renewedUntil = renewed?.expires_at ?? null;
  }
  return { staff: { id: row.id, email: row.email, name: row.name, role: row.role }, renewedUntil };
}

export async function revokeStaffSession(db: Kysely<Database>, token: string): Promise<void> {
  await db.deleteFrom('staff_sessions').where('token_hash', '=', hashToken(token)).execute();
}

/** Signs a staff user out everywhere. */
export async function revokeAllStaffSessions(db: Kysely<Database>, staffUserId: string): Promise<number> {
  const result = await db.deleteFrom('staff_sessions').where('staff_user_id', '=', staffUserId).executeTakeFirst();
  return Number(result.numDeletedRows);
}

export async function pruneExpiredStaffSessions(db: Kysely<Database>): Promise<void> {
  await db.deleteFrom('staff_sessions').where('expires_at', '<', dbNow()).execute();
}
