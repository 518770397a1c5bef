import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { hitRateLimit } from '../../lib/rate-limit.ts';
import { hmac } from '../../lib/tokens.ts';
import { RateLimitedError, UnauthorizedError } from '../errors.ts';
import { burnPasswordCheck, verifyPassword } from './passwords.ts';
import { createStaffSession } from './sessions.ts';
import { findStaffByEmail, normaliseEmail } from './users.ts';

/** Per client address and per account, in 15-minute windows, shared by every process. */
export const SIGNIN_LIMITS = {
  perIp: { limit: 20, windowSeconds: 900 },
  perAccount: { limit: 8, windowSeconds: 900 },
};

export interface SignInInput {
  email: string;
  password: string;
  /** The client's address; only its HMAC reaches the database. */
  clientIp: string;
}

/**
 * Checks the rate limits, then the password, and opens a session. The same error and about
 * the same time for an unknown address and a wrong password: sign-in reveals no accounts.
 */
export async function signInStaff(db: Kysely<Database>, secret: string, input: SignInInput) {
  const email = normaliseEmail(input.email);
  const byIp = await hitRateLimit(db, hmac(secret, 'ratelimit:staff-signin:ip', input.clientIp), SIGNIN_LIMITS.perIp);
  const byAccount = await hitRateLimit(db, hmac(secret, 'ratelimit:staff-signin:account', email), SIGNIN_LIMITS.perAccount);
  if (!byIp.allowed || !byAccount.allowed) {
    throw new RateLimitedError(Math.max(byIp.allowed ? 0 : byIp.retryAfter, byAccount.allowed ? 0 : byAccount.retryAfter));
  }
  const user = await findStaffByEmail(db, email);
  if (!user || user.disabled_at !== null) {
    await burnPasswordCheck(input.password);
    throw new UnauthorizedError('That email and password do not match.', 'bad_credentials');
  }
  if (!(await verifyPassword(user.password_hash, input.password))) {
    throw new UnauthorizedError('That email and password do not match.', 'bad_credentials');
  }
  const session = await createStaffSession(db, user.id);
  return { user: { id: user.id, email: user.email, name: user.name, role: user.role }, ...session };
}
