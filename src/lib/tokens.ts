import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** A random token for a cookie or a link: 32 bytes, base64url. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** What the database keeps of a bearer secret (session, magic link, API token): its SHA-256. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** Constant-time comparison of two strings (false when lengths differ). */
export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** A purpose-bound HMAC of `value` under the app secret, base64url. */
export function hmac(secret: string, purpose: string, value: string): string {
  return createHmac('sha256', secret).update(purpose).update('\0').update(value).digest('base64url');
}

/**
 * Signs a payload into `<payload>.<mac>`, both base64url. The purpose is mixed into the MAC,
 * so a token made for one use (say, confirming an address) is worthless for another.
 */
export function sign(secret: string, purpose: string, payload: string): string {
  const body = Buffer.from(payload).toString('base64url');
  return `${body}.${hmac(secret, purpose, body)}`;
}

/** The payload of a token made by `sign`, or null when it was tampered with or is malformed. */
export function verify(secret: string, purpose: string, token: string): string | null {
  const dot = token.lastIndexOf('.');
  if (dot <= 0) return null;
  const body = token.slice(0, dot);
  const mac = token.slice(dot + 1);
  if (!safeEqual(mac, hmac(secret, purpose, body))) return null;
  return Buffer.from(body, 'base64url').toString();
}
