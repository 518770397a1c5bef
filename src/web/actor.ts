import type { AstroCookies } from 'astro';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import type { Viewer } from '../domain/content/access.ts';
import type { Actor } from '../domain/community/rules.ts';
import { SESSION_COOKIE, staffFromSession } from '../domain/staff/sessions.ts';
import { signedInMember } from './viewer.ts';

/**
 * Who is acting in a post's conversation, and the same person as a reader (for canRead): a
 * staff user signed in to the admin speaks for the brand; else a signed-in member; else
 * anonymous. A reader without a session cookie costs no query.
 */
export async function actorFor(db: Kysely<Database>, cookies: AstroCookies, siteUrl: string): Promise<{ actor: Actor; viewer: Viewer }> {
  const staffToken = cookies.get(SESSION_COOKIE)?.value;
  const session = staffToken ? await staffFromSession(db, staffToken) : undefined;
  if (session) return { actor: { kind: 'staff', id: session.staff.id, role: session.staff.role, name: session.staff.name }, viewer: { kind: 'staff' } };
  const member = await signedInMember(db, cookies, siteUrl);
  if (member) {
    return {
      actor: { kind: 'member', id: member.id, paid: member.paid, tierId: member.tierId, name: member.name },
      viewer: { kind: 'member', status: member.status, paid: member.paid, tierId: member.tierId },
    };
  }
  return { actor: { kind: 'anonymous' }, viewer: { kind: 'anonymous' } };
}
