import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { ANONYMOUS, type Viewer } from '../domain/content/access.ts';
import type { Actor } from '../domain/community/rules.ts';
import { MEMBER_COOKIE, memberFromSession, type SessionMember } from '../domain/membership/sessions.ts';
import { SESSION_COOKIE, staffFromSession, type SessionStaffUser } from '../domain/staff/sessions.ts';
import { setMemberSessionCookie, setStaffSessionCookie, type CookieJar } from './session-cookie.ts';

/**
 * Who is here: looked up once per request from the session cookies, then projected to what each
 * rule needs — a Viewer for canRead, an Actor for the conversation. A staff user signed in to the
 * admin comes first (staff read everything, to check a gated post as it will look, and speak for
 * the brand); else a signed-in member; else anonymous. A request without a session cookie costs
 * no query. When a lookup extended the session, the cookie is set again to the new end.
 */
export type Presence = { kind: 'anonymous' } | { kind: 'staff'; staff: SessionStaffUser } | { kind: 'member'; member: SessionMember };

export async function identify(db: Kysely<Database>, cookies: CookieJar, siteUrl: string): Promise<Presence> {
  const staff = await signedInStaff(db, cookies, siteUrl);
  if (staff) return { kind: 'staff', staff };
  const member = await signedInMember(db, cookies, siteUrl);
  return member ? { kind: 'member', member } : { kind: 'anonymous' };
}

/** The staff user of the admin session cookie, renewing the cookie when the session was extended. */
export async function signedInStaff(db: Kysely<Database>, cookies: CookieJar, siteUrl: string): Promise<SessionStaffUser | undefined> {
  const token = cookies.get(SESSION_COOKIE)?.value;
  if (!token) return undefined;
  const session = await staffFromSession(db, token);
  if (session?.renewedUntil) setStaffSessionCookie(cookies, siteUrl, token, session.renewedUntil);
  return session?.staff;
}

/** The member of the member session cookie, renewing the cookie when the session was extended. */
export async function signedInMember(db: Kysely<Database>, cookies: CookieJar, siteUrl: string): Promise<SessionMember | undefined> {
  const token = cookies.get(MEMBER_COOKIE)?.value;
  if (!token) return undefined;
  const session = await memberFromSession(db, token);
  if (session?.renewedUntil) setMemberSessionCookie(cookies, siteUrl, token, session.renewedUntil);
  return session?.member;
}

/** The reader, as canRead sees them. */
export function viewerOf(presence: Presence): Viewer {
  switch (presence.kind) {
    case 'staff':
      return { kind: 'staff' };
    case 'member': {
      const { status, paid, tierId } = presence.member;
      return { kind: 'member', status, paid, tierId };
    }
    default:
      return ANONYMOUS;
  }
}

/** The person acting in a post's conversation, as its rules see them. */
export function actorOf(presence: Presence): Actor {
  switch (presence.kind) {
    case 'staff':
      return staffActor(presence.staff);
    case 'member': {
      const { id, paid, tierId, name } = presence.member;
      return { kind: 'member', id, paid, tierId, name };
    }
    default:
      return { kind: 'anonymous' };
  }
}

/** A staff user of the admin as the conversation's actor (the moderation pages answer questions as them). */
export function staffActor(staff: SessionStaffUser): Extract<Actor, { kind: 'staff' }> {
  const { id, role, name } = staff;
  return { kind: 'staff', id, role, name };
}
