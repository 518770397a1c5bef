import type { APIRoute } from 'astro';
import { SESSION_COOKIE, revokeStaffSession } from '../../domain/staff/sessions.ts';
import { clearStaffSessionCookie } from '../../lib/session-cookie.ts';

export const POST: APIRoute = async ({ locals, cookies, redirect }) => {
  const token = cookies.get(SESSION_COOKIE)?.value;
  if (token) await revokeStaffSession(locals.runtime.db, token);
  clearStaffSessionCookie(cookies);
  return redirect('/admin/signin', 303);
};
