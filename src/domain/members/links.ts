import { sign, verify } from '../../lib/tokens.ts';
import { ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';

/**
 * Signed links that act for a member without a sign-in: confirming a subscription (expires
 * after CONFIRM_DAYS) and the preference page / one-click unsubscribe (never expires, so the
 * link in an old email still works). HMAC under APP_SECRET, compared in constant time.
 */
export const CONFIRM_DAYS = 7;

interface ConfirmPayload {
  m: string;
  n: string[];
  e: number;
}

export function confirmToken(secret: string, memberId: string, newsletterIds: string[], now = Date.now()): string {
  const payload: ConfirmPayload = { m: memberId, n: newsletterIds, e: Math.floor(now / 1000) + CONFIRM_DAYS * 86_400 };
  return sign(secret, 'confirm-subscription', JSON.stringify(payload));
}

export function readConfirmToken(secret: string, token: string, now = Date.now()): { memberId: string; newsletterIds: string[] } {
  const raw = token.length > 2000 ? null : verify(secret, 'confirm-subscription', token);
  let payload: ConfirmPayload | undefined;
  try {
    payload = raw ? (JSON.parse(raw) as ConfirmPayload) : undefined;
  } catch {
    payload = undefined;
  }
  if (!payload || typeof payload.m !== 'string' || !Array.isArray(payload.n) || typeof payload.e !== 'number') {
    throw new ValidationError(
      'This confirmation link is not valid. Copy the whole link from the email, or subscribe again.',
      'invalid_token',
    );
  }
  if (payload.e * 1000 < now) {
    throw new ValidationError('This confirmation link has expired. Subscribe again to get a new one.', 'expired_token');
  }
  return { memberId: payload.m, newsletterIds: payload.n.filter((n): n is string => typeof n === 'string') };
}

export function preferencesToken(secret: string, memberId: string): string {
  return sign(secret, 'member-preferences', memberId);
}

export function readPreferencesToken(secret: string, token: string): string {
  const memberId = token.length > 500 ? null : verify(secret, 'member-preferences', token);
  if (!isId(memberId)) {
    throw new ValidationError('This link is not valid. Use the link at the bottom of one of our emails.', 'invalid_token');
  }
  return memberId;
}

export function confirmUrl(siteUrl: string, token: string): string {
  return `${siteUrl}/confirm?token=${encodeURIComponent(token)}`;
}

export function preferencesUrl(siteUrl: string, token: string): string {
  return `${siteUrl}/unsubscribe?token=${encodeURIComponent(token)}`;
}
