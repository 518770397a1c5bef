import { randomInt } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { automaticEmail } from '../emails/emails.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor } from '../newsletters/sender.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { hitRateLimit } from '../../lib/rate-limit.ts';
import { hashToken, hmac, randomToken, safeEqual } from '../../lib/tokens.ts';
import { RateLimitedError, ValidationError } from '../../lib/errors.ts';
import { emailProblemCode, invalidEmailError, normaliseEmail } from '../members/email.ts';
import { recordEvent } from '../members/events.ts';
import { lockMemberByEmail, newReferralCode } from '../members/subscribe.ts';
import { isSuppressed } from '../members/suppression.ts';
import { creditReferral } from '../referrals/referrals.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { createMemberSession } from './sessions.ts';
import { dbNow } from '../../lib/sql.ts';

/**
 * Magic-link sign-in for members: /signin emails a link and a 6-digit code. The answer never
 * says whether the address is known. The link (or the code) is valid 24 h and may be used up to
 * MAX_USES times within 10 minutes of its first use, then it is dead. Opening the link (GET) only
 * shows a "Sign in" button; the POST from it uses the link, so a mail scanner that opens every
 * link neither signs in, nor confirms a pending member, nor counts a referral. An unknown address becomes a free member (the site allows sign-up); clicking
 * the link proves the address, so it confirms them.
 */
export const SIGN_IN_LIMITS = {
  perIp: { limit: 20, windowSeconds: 3_600 },
  perAddress: { limit: 5, windowSeconds: 3_600 },
};
const LINK_HOURS = 24;
const REUSE_MINUTES = 10;
const MAX_USES = 3;
const MAX_CODE_ATTEMPTS = 5;

export async function requestSignIn(
  db: Kysely<Database>,
  ctx: SiteKeys,
  input: { email: string; clientIp: string; returnTo?: string | null },
): Promise<void> {
  const problem = emailProblemCode(input.email);
  if (problem) throw invalidEmailError('Please check your email address', problem);
  const email = normaliseEmail(input.email);
  const byIp = await hitRateLimit(db, hmac(ctx.secret, 'ratelimit:member-signin:ip', input.clientIp), SIGN_IN_LIMITS.perIp);
  const byAddress = await hitRateLimit(db, hmac(ctx.secret, 'ratelimit:member-signin:address', email), SIGN_IN_LIMITS.perAddress);
  if (!byIp.allowed || !byAddress.allowed)
    throw new RateLimitedError(
      Math.max(byIp.retryAfter, byAddress.retryAfter),
      'Too many sign-in requests. Please wait a little and check your inbox.',
    );

  await db.transaction().execute(async (trx) => {
    if (await isSuppressed(trx, email)) return; // never mail a bounced or complained address
    let member = await lockMemberByEmail(trx, email);
    let newMember = false;
    if (!member) {
      member = await trx
        .insertInto('members')
        .values({
          email,
          status: 'pending',
          tier_id: sql<string>`(select id from tiers where slug = 'free')` as unknown as string,
          source_platform: 'direct',
          referral_code: newReferralCode(),
        })
        .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (!member) return; // created concurrently: that request sends the email
      newMember = true;
      await recordEvent(trx, member.id, 'subscribed', { via: 'sign-in' });
    }
    if (member.status === 'bounced' || member.status === 'complained') return;
    const token = randomToken();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    await trx
      .insertInto('member_sign_ins')
      .values({
        member_id: member.id,
        token_hash: hashToken(token),
        code_hash: hmac(ctx.secret, 'sign-in-code', `${member.id}:${code}`),
        return_to: input.returnTo ?? null,
        expires_at: dbNow({ hours: LINK_HOURS }),
      })
      .execute();
    const site = await getSiteSettings(trx);
    const rendered = await automaticEmail(trx, 'sign_in', {
      lang: member.language ?? site.language,
      brand: await emailBrand(trx, site, ctx.siteUrl),
      link: `${ctx.siteUrl}/signin/verify?token=${encodeURIComponent(token)}`,
      code,
      newMember,
    });
    await queueEmail(trx, { ...(await senderFor(trx, ctx)), to: [member.email], ...rendered, tags: [{ name: 'kind', value: 'sign-in' }] });
  });
}

const INVALID = () => new ValidationError('This sign-in link or code is not valid any more. Ask for a new one.', 'invalid_sign_in');

/** Uses a sign-in (by link or code) and opens a session; confirms a pending member. */
async function consume(db: Kysely<Database>, signInId: string) {
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .selectFrom('member_sign_ins')
      .selectAll()
      .where('id', '=', signInId)
      .where('expires_at', '>', dbNow())
      .forUpdate()
      .executeTakeFirst();
    if (!row) throw INVALID();
    const firstUse = row.first_used_at;
    if (row.uses >= MAX_USES || (firstUse && Date.now() - firstUse.getTime() > REUSE_MINUTES * 60_000)) throw INVALID();
    await trx
      .updateTable('member_sign_ins')
      .set({ uses: row.uses + 1, first_used_at: firstUse ?? new Date() })
      .where('id', '=', row.id)
      .execute();
    const member = await trx
      .selectFrom('members')
      .select(['id', 'status', 'confirmed_at'])
      .where('id', '=', row.member_id)
      .forUpdate()
      .executeTakeFirstOrThrow();
    if (member.status === 'pending') {
      await trx
        .updateTable('members')
        .set({ status: 'active', confirmed_at: member.confirmed_at ?? new Date(), updated_at: new Date() })
        .where('id', '=', member.id)
        .execute();
      await recordEvent(trx, member.id, 'confirmed', { via: 'sign-in' });
      await creditReferral(trx, member.id);
    }
    const session = await createMemberSession(trx, member.id);
    return { ...session, returnTo: row.return_to };
  });
}

async function findSignInLink(db: Kysely<Database>, token: string) {
  if (token.length < 20 || token.length > 100) throw INVALID();
  const row = await db
    .selectFrom('member_sign_ins')
    .select(['id', 'uses', 'first_used_at'])
    .where('token_hash', '=', hashToken(token))
    .where('expires_at', '>', dbNow())
    .executeTakeFirst();
  if (!row) throw INVALID();
  return row;
}

/**
 * Checks a sign-in link without using it: what the GET of the link does, since mail scanners
 * open links. Throws the same error as a use would.
 */
export async function checkSignInLink(db: Kysely<Database>, token: string): Promise<void> {
  const row = await findSignInLink(db, token);
  const firstUse = row.first_used_at;
  if (row.uses >= MAX_USES || (firstUse && Date.now() - firstUse.getTime() > REUSE_MINUTES * 60_000)) throw INVALID();
}

/** Uses a sign-in link (the POST from its page): opens a session and confirms a pending member. */
export async function verifySignInLink(db: Kysely<Database>, token: string) {
  const row = await findSignInLink(db, token);
  return consume(db, row.id);
}

/** The 6-digit code from the email, for a reader who reads mail on another device. */
export async function verifySignInCode(db: Kysely<Database>, ctx: SiteKeys, input: { email: string; code: string }) {
  const code = input.code.replace(/\s/g, '');
  if (!/^\d{6}$/.test(code)) throw INVALID();
  const member = await db
    .selectFrom('members')
    .select('id')
    .where(sql`lower(email)`, '=', normaliseEmail(input.email))
    .executeTakeFirst();
  if (!member) throw INVALID();
  const latest = await db
    .selectFrom('member_sign_ins')
    .select(['id', 'code_hash', 'code_attempts'])
    .where('member_id', '=', member.id)
    .where('expires_at', '>', dbNow())
    .orderBy('created_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (!latest || latest.code_attempts >= MAX_CODE_ATTEMPTS) throw INVALID();
  // Six digits are guessable: every wrong try counts, and five kill the code.
  await db
    .updateTable('member_sign_ins')
    .set({ code_attempts: latest.code_attempts + 1 })
    .where('id', '=', latest.id)
    .execute();
  if (!safeEqual(latest.code_hash, hmac(ctx.secret, 'sign-in-code', `${member.id}:${code}`))) throw INVALID();
  return consume(db, latest.id);
}
