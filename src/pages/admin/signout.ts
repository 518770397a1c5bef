import type { APIRoute } from 'astro';
import { SESSION_COOKIE, revokeAllStaffSessions, revokeStaffSession } from '../../domain/staff/sessions.ts';
import { field, readFields } from '../../web/request-data.ts';
import { clearStaffSessionCookie } from '../../web/session-cookie.ts';

/** Signs out this browser, or with `everywhere=1` every session of this staff user. */
export const POST: APIRoute = async ({ locals, cookies, request, redirect }) => {
  const form = await readFields(request);
  const token = cookies.get(SESSION_COOKIE)?.value;
  if (field(form, 'everywhere') === '1') await revokeAllStaffSessions(locals.runtime.db, locals.staff!.id);
  else if (token) await revokeStaffSession(locals.runtime.db, token);
  clearStaffSessionCookie(cookies);
  return redirect('/admin/signin', 303);
};
