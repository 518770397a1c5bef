import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { hitRateLimit, peekRateLimit } from '../../lib/rate-limit.ts';
import { hmac } from '../../lib/tokens.ts';
import { RateLimitedError, UnauthorizedError } from '../../lib/errors.ts';
import { burnPasswordCheck, MAX_PASSWORD_LENGTH, verifyPassword } from './passwords.ts';
import { createStaffSession } from './sessions.ts';
import { findStaffByEmail, normaliseEmail } from './users.ts';

/**
 * In 15-minute windows, shared by every process. Attempts per client address are all counted;
 * failures are counted per account and address (a guesser is stopped without letting anyone
 * lock the owner out from elsewhere) and per account overall, with a ceiling high enough that
 * only a distributed guessing attack reaches it.
 */
export const SIGNIN_LIMITS = {
  perIp: { limit: 30, windowSeconds: 900 },
  failuresPerAccountAndIp: { limit: 8, windowSeconds: 900 },
  failuresPerAccount: { limit: 100, windowSeconds: 900 },
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
  if (input.password.length > MAX_PASSWORD_LENGTH || email.length > 254) {
    throw new UnauthorizedError('That email and password do not match.', 'bad_credentials');
  }
  const pairKey = hmac(secret, 'ratelimit:staff-signin:failures', `${email}\0${input.clientIp}`);
  const accountKey = hmac(secret, 'ratelimit:staff-signin:account-failures', email);
  const byIp = await hitRateLimit(db, hmac(secret, 'ratelimit:staff-signin:ip', input.clientIp), SIGNIN_LIMITS.perIp);
  const [pair, account] = await Promise.all([
    peekRateLimit(db, pairKey, SIGNIN_LIMITS.failuresPerAccountAndIp),
    peekRateLimit(db, accountKey, SIGNIN_LIMITS.failuresPerAccount),
  ]);
  const blocked = [byIp, pair, account].filter((v) => !v.allowed);
  if (blocked.length > 0) throw new RateLimitedError(Math.max(...blocked.map((v) => v.retryAfter)));

  const fail = async (): Promise<never> => {
    await hitRateLimit(db, pairKey, SIGNIN_LIMITS.failuresPerAccountAndIp);
    await hitRateLimit(db, accountKey, SIGNIN_LIMITS.failuresPerAccount);
    throw new UnauthorizedError('That email and password do not match.', 'bad_credentials');
  };
  const user = await findStaffByEmail(db, email);
  if (!user || user.disabled_at !== null) {
    await burnPasswordCheck(input.password);
    return fail();
  }
  if (!(await verifyPassword(user.password_hash, input.password))) return fail();
  const session = await createStaffSession(db, user.id);
  return { user: { id: user.id, email: user.email, name: user.name, role: user.role }, ...session };
}
