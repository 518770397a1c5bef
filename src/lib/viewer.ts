import type { AstroCookies } from 'astro';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { ANONYMOUS, type Viewer } from '../domain/content/access.ts';
import { SESSION_COOKIE, staffFromSession } from '../domain/staff/sessions.ts';

/**
 * Who is reading a reader page, for canRead. Staff signed in to the admin read everything (to
 * check a gated post as it looks when published). Member sessions join here with membership.
 * A reader without a session cookie costs no query.
 */
export async function viewerFor(db: Kysely<Database>, cookies: AstroCookies): Promise<Viewer> {
  const staffToken = cookies.get(SESSION_COOKIE)?.value;
  if (staffToken && (await staffFromSession(db, staffToken))) return { kind: 'staff' };
  return ANONYMOUS;
}
