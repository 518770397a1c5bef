import type { AstroCookies } from 'astro';
import { SESSION_COOKIE } from '../domain/staff/sessions.ts';
import { MEMBER_COOKIE } from '../domain/membership/sessions.ts';
import { currentRequestContext } from '../lib/request-context.ts';

/** The part of Astro's cookies the session code uses (a test builds one from a Request). */
export type CookieJar = Pick<AstroCookies, 'get' | 'set' | 'delete'>;

/**
 * Secure when SITE_URL is https, or when a trusted proxy (TRUST_PROXY) says the client came over
 * HTTPS; an untrusted peer's X-Forwarded-Proto changes nothing.
 */
export function secureCookies(siteUrl: string): boolean {
  return siteUrl.startsWith('https://') || currentRequestContext()?.forwardedHttps === true;
}

/** HttpOnly, SameSite=Lax, Secure over HTTPS (secureCookies). */
export function setStaffSessionCookie(cookies: CookieJar, siteUrl: string, token: string, expiresAt: Date): void {
  cookies.set(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(siteUrl),
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
    secure: secureCookies(siteUrl),
    expires: expiresAt,
  });
}

export function clearMemberSessionCookie(cookies: CookieJar): void {
  cookies.delete(MEMBER_COOKIE, { path: '/' });
}
