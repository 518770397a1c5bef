import { CompiledQuery, type Kysely } from 'kysely';
import type { Database, MemberStatus } from '../../../db/types.ts';
import { hashToken, randomToken } from '../../lib/tokens.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Member sessions: a random token in an HttpOnly cookie, its SHA-256 in the database; 30 days
 * after the last use (sliding, extended at most once an hour); signing out everywhere deletes them all.
 */
export const MEMBER_SESSION_DAYS = 30;
export const MEMBER_COOKIE = 'hearth_member';

export interface SessionMember {
  id: string;
  email: string;
  name: string | null;
  status: MemberStatus;
  tierId: string;
  paid: boolean;
  /** ISO 639-1, or null: the site's language. */
  language: string | null;
}

export async function createMemberSession(db: Kysely<Database>, memberId: string): Promise<{ token: string; expiresAt: Date }> {
  const token = randomToken();
  const row = await db
    .insertInto('member_sessions')
    .values({ token_hash: hashToken(token), member_id: memberId, expires_at: dbNow({ days: MEMBER_SESSION_DAYS }) })
    .returning('expires_at')
    .executeTakeFirstOrThrow();
  return { token, expiresAt: row.expires_at };
}

interface SessionRow {
  id: string;
  email: string;
  name: string | null;
  status: MemberStatus;
  tier_id: string;
  paid: boolean;
  last_seen_at: Date;
  language: string | null;
}

// Every signed-in request asks this: written once, not built and compiled by the query builder
// each time (that was most of the lookup's own time on a member's busy page).
const SESSION_MEMBER = `select m.id, m.email, m.name, m.status, m.tier_id, t.paid, s.last_seen_at, m.language
  from member_sessions s
  join members m on m.id = s.member_id
  join tiers t on t.id = m.tier_id
  where s.token_hash = $1 and s.expires_at > now()`;

export async function memberFromSession(
  db: Kysely<Database>,
  token: string,
): Promise<{ member: SessionMember; renewedUntil: Date | null } | undefined> {
  if (token.length < 20 || token.length > 100) return undefined;
  const tokenHash = hashToken(token);
  const row = (await db.executeQuery<SessionRow>(CompiledQuery.raw(SESSION_MEMBER, [tokenHash]))).rows[0];
  if (!row) return undefined;
  let renewedUntil: Date | null = null;
  if (Date.now() - row.last_seen_at.getTime() > 3_600_000) {
    const renewed = await db
      .updateTable('member_sessions')
      .set({ last_seen_at: dbNow(), expires_at: dbNow({ days: MEMBER_SESSION_DAYS }) })
      .where('token_hash', '=', tokenHash)
      .returning('expires_at')
      .executeTakeFirst();
    renewedUntil = renewed?.expires_at ?? null;
  }
  return {
    member: {
      id: row.id,
      email: row.email,
      name: row.name,
      status: row.status,
      tierId: row.tier_id,
      paid: row.paid,
      language: row.language,
    },
    renewedUntil,
  };
}

export async function endMemberSession(db: Kysely<Database>, token: string): Promise<void> {
  await db.deleteFrom('member_sessions').where('token_hash', '=', hashToken(token)).execute();
}

export async function endAllMemberSessions(db: Kysely<Database>, memberId: string): Promise<number> {
  const r = await db.deleteFrom('member_sessions').where('member_id', '=', memberId).executeTakeFirst();
  return Number(r.numDeletedRows);
}
