import type { APIRoute } from 'astro';
import { MEMBER_COOKIE, endAllMemberSessions, endMemberSession, memberFromSession } from '../domain/membership/sessions.ts';
import { field, readFields } from '../web/request-data.ts';
import { clearMemberSessionCookie } from '../web/session-cookie.ts';

/** Member sign-out: this browser, or with everywhere=1 every session of the member. */
export const POST: APIRoute = async ({ request, cookies, locals, redirect }) => {
  const { db } = locals.runtime;
  const form = await readFields(request);
  const token = cookies.get(MEMBER_COOKIE)?.value;
  if (token) {
    const session = field(form, 'everywhere') === '1' ? await memberFromSession(db, token) : undefined;
    if (session) await endAllMemberSessions(db, session.member.id);
    else await endMemberSession(db, token);
  }
  clearMemberSessionCookie(cookies);
  return redirect('/', 303);
};
