import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { hitRateLimit, type RateLimit } from '../../lib/rate-limit.ts';
import { hmac } from '../../lib/tokens.ts';
import { RateLimitedError } from '../../lib/errors.ts';

/**
 * Per-member and per-network limits on talking, kept in Postgres (src/lib/rate-limit.ts) under
 * HMAC keys: no member id in the clear, no IP address at all. A network is an IPv4 /24 or an
 * IPv6 /64, so a flood from one machine that rotates addresses still meets one limit.
 */
export const CONVERSATION_LIMITS = {
  commentsPerMinute: { limit: 5, windowSeconds: 60 },
  commentsPerDay: { limit: 100, windowSeconds: 86_400 },
  commentsPerNetwork: { limit: 40, windowSeconds: 600 },
  reactionsPerMember: { limit: 60, windowSeconds: 600 },
  reportsPerMember: { limit: 20, windowSeconds: 86_400 },
} satisfies Record<string, RateLimit>;

export function networkOf(ip: string): string {
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/i.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (ip.includes(':')) {
    const [head] = ip.split('%');
    const parts = head!.split('::');
    const left = parts[0] ? parts[0].split(':') : [];
    const right = parts.length > 1 && parts[1] ? parts[1].split(':') : [];
    const full = parts.length > 1 ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left;
    return `${full
      .slice(0, 4)
      .map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''))
      .join(':')}::/64`;
  }
  return ip;
}

async function check(db: Kysely<Database>, secret: string, checks: Array<[string, string, RateLimit]>, message: string): Promise<void> {
  let retryAfter = 0;
  for (const [purpose, value, rule] of checks) {
    const verdict = await hitRateLimit(db, hmac(secret, purpose, value), rule);
    if (!verdict.allowed) retryAfter = Math.max(retryAfter, verdict.retryAfter);
  }
  if (retryAfter > 0) throw new RateLimitedError(retryAfter, message);
}

export function limitComment(db: Kysely<Database>, secret: string, memberId: string, clientIp: string): Promise<void> {
  return check(
    db,
    secret,
    [
      ['ratelimit:comment:member-minute', memberId, CONVERSATION_LIMITS.commentsPerMinute],
      ['ratelimit:comment:member-day', memberId, CONVERSATION_LIMITS.commentsPerDay],
      ['ratelimit:comment:network', networkOf(clientIp), CONVERSATION_LIMITS.commentsPerNetwork],
    ],
    'You are commenting faster than we allow. Wait a minute and post again; your text is kept below.',
  );
}

export function limitReaction(db: Kysely<Database>, secret: string, memberId: string): Promise<void> {
  return check(
    db,
    secret,
    [['ratelimit:reaction:member', memberId, CONVERSATION_LIMITS.reactionsPerMember]],
    'Too many reactions in a short time. Wait a few minutes.',
  );
}

export function limitReport(db: Kysely<Database>, secret: string, memberId: string): Promise<void> {
  return check(
    db,
    secret,
    [['ratelimit:report:member', memberId, CONVERSATION_LIMITS.reportsPerMember]],
    'You have sent many reports today. Our moderators are on it; try again tomorrow.',
  );
}
