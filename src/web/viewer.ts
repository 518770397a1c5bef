import type { AstroCookies } from 'astro';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { ANONYMOUS, type Viewer } from '../domain/content/access.ts';
import { MEMBER_COOKIE, memberFromSession, type SessionMember } from '../domain/membership/sessions.ts';
import { SESSION_COOKIE, staffFromSession } from '../domain/staff/sessions.ts';
import { setMemberSessionCookie } from './session-cookie.ts';

/**
 * Who is reading a reader page, for canRead: staff signed in to the admin read everything (to
 * check a gated post as it will look); a signed-in member reads what their tier allows; anyone
 * else is anonymous. A reader without a session cookie costs no query.
 */
export async function viewerFor(db: Kysely<Database>, cookies: AstroCookies, siteUrl: string): Promise<Viewer> {
  const staffToken = cookies.get(SESSION_COOKIE)?.value;
  if (staffToken && (await staffFromSession(db, staffToken))) return { kind: 'staff' };
  const member = await signedInMember(db, cookies, siteUrl);
  return member ? { kind: 'member', status: member.status, paid: member.paid, tierId: member.tierId } : ANONYMOUS;
}

/** The signed-in member, renewing the cookie when the session was extended. */
export async function signedInMember(db: Kysely<Database>, cookies: AstroCookies, siteUrl: string): Promise<SessionMember | undefined> {
  const token = cookies.get(MEMBER_COOKIE)?.value;
  if (!token) return undefined;
  const session = await memberFromSession(db, token);
  if (session?.renewedUntil) setMemberSessionCookie(cookies, siteUrl, token, session.renewedUntil);
  return session?.member;
}
