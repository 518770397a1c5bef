import type { AstroCookies } from 'astro';
import { SESSION_COOKIE } from '../domain/staff/sessions.ts';
import { MEMBER_COOKIE } from '../domain/membership/sessions.ts';

/** HttpOnly, SameSite=Lax, Secure when the site is served over HTTPS. */
export function setStaffSessionCookie(cookies: AstroCookies, siteUrl: string, token: string, expiresAt: Date): void {
  cookies.set(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: siteUrl.startsWith('https://'),
    expires: expiresAt,
  });
}

export function clearStaffSessionCookie(cookies: AstroCookies): void {
  cookies.delete(SESSION_COOKIE, { path: '/' });
}

export function setMemberSessionCookie(cookies: AstroCookies, siteUrl: string, token: string, expiresAt: Date): void {
  cookies.set(MEMBER_COOKIE, token, { path: '/', httpOnly: true, sameSite: 'lax', secure: siteUrl.startsWith('https://'), expires: expiresAt });
}

export function clearMemberSessionCookie(cookies: AstroCookies): void {
  cookies.delete(MEMBER_COOKIE, { path: '/' });
}
