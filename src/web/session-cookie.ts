import type { AstroCookies } from 'astro';
import { SESSION_COOKIE } from '../domain/staff/sessions.ts';
import { MEMBER_COOKIE } from '../domain/membership/sessions.ts';

/** The part of Astro's cookies the session code uses (a test builds one from a Request). */
export type CookieJar = Pick<AstroCookies, 'get' | 'set' | 'delete'>;

/** HttpOnly, SameSite=Lax, Secure when the site is served over HTTPS. */
export function setStaffSessionCookie(cookies: CookieJar, siteUrl: string, token: string, expiresAt: Date): void {
  cookies.set(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: siteUrl.startsWith('https://'),
    expires: expiresAt,
  });
}

export function clearStaffSessionCookie(cookies: CookieJar): void {
  cookies.delete(SESSION_COOKIE, { path: '/' });
}

export function setMemberSessionCookie(cookies: CookieJar, siteUrl: string, token: string, expiresAt: Date): void {
  cookies.set(MEMBER_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: siteUrl.startsWith('https://'),
    expires: expiresAt,
  });
}

export function clearMemberSessionCookie(cookies: CookieJar): void {
  cookies.delete(MEMBER_COOKIE, { path: '/' });
}
