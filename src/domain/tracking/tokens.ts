import { sign, verify } from '../../lib/tokens.ts';
import { isId } from '../../lib/ids.ts';

/**
 * Tracking tokens: HMAC-signed (lib/tokens.ts, compared in constant time), purpose-bound, naming
 * a delivery (send and member) and, for a click, the link's number in the send. Member "0" is a
 * send whose tracking does not name members (the per-member setting was off when it was
 * prepared). A token is a pure function of its fields, so a re-posted batch carries the same.
 */
export interface OpenRef {
  sendId: string;
  memberId: string | null;
}
export interface ClickRef extends OpenRef {
  link: number;
}

const MAX_TOKEN = 200;

export function openToken(secret: string, sendId: string, memberId: string | null): string {
  return sign(secret, 'track-open', `${sendId}.${memberId ?? '0'}`);
}

export function clickToken(secret: string, sendId: string, memberId: string | null, link: number): string {
  return sign(secret, 'track-click', `${sendId}.${memberId ?? '0'}.${link}`);
}

function fields(secret: string, purpose: string, token: string, count: number): string[] | null {
  if (token.length > MAX_TOKEN) return null;
  const payload = verify(secret, purpose, token);
  const parts = payload?.split('.');
  if (!parts || parts.length !== count || !parts.every((p) => isId(p))) return null;
  return parts;
}

export function readOpenToken(secret: string, token: string): OpenRef | null {
  const f = fields(secret, 'track-open', token, 2);
  return f ? { sendId: f[0]!, memberId: f[1] === '0' ? null : f[1]! } : null;
}

export function readClickToken(secret: string, token: string): ClickRef | null {
  const f = fields(secret, 'track-click', token, 3);
  if (!f) return null;
  const link = Number(f[2]);
  return Number.isSafeInteger(link) && link < 10_000 ? { sendId: f[0]!, memberId: f[1] === '0' ? null : f[1]!, link } : null;
}
