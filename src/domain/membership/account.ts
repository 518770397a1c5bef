import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { automaticEmail } from '../emails/emails.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import { senderFor } from '../newsletters/sender.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { hitRateLimit } from '../../lib/rate-limit.ts';
import { hmac, sign, verify } from '../../lib/tokens.ts';
import { ConflictError, RateLimitedError, ValidationError } from '../../lib/errors.ts';
import { emailProblemCode, invalidEmailError, normaliseEmail } from '../members/email.ts';
import { recordEvent } from '../members/events.ts';
import { isSuppressed } from '../members/suppression.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { emailLanguageOf } from '../members/language.ts';

/**
 * What a signed-in member changes in their account: their name at once; their address only once
 * the new address confirms (a signed link sent there, valid 24 h), so nobody can move a
 * membership to an address they do not read.
 */
export async function renameMember(db: Kysely<Database>, memberId: string, name: string): Promise<void> {
  const clean = name.replace(/[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  if (clean.length > 200) throw new ValidationError('The name has at most 200 characters.', 'invalid_name');
  await db
    .updateTable('members')
    .set({ name: clean || null, updated_at: new Date() })
    .where('id', '=', memberId)
    .execute();
}

const CHANGE_HOURS = 24;

export async function requestEmailChange(db: Kysely<Database>, ctx: SiteKeys, memberId: string, newEmail: string): Promise<void> {
  const problem = emailProblemCode(newEmail);
  if (problem) throw invalidEmailError('Please check the new address', problem);
  const email = normaliseEmail(newEmail);
  const limit = await hitRateLimit(db, hmac(ctx.secret, 'ratelimit:email-change', memberId), { limit: 5, windowSeconds: 86_400 });
  if (!limit.allowed)
    throw new RateLimitedError(limit.retryAfter, 'You asked to change your address many times today. Please try again tomorrow.');
  if (await isSuppressed(db, email))
    throw new ValidationError('We cannot send to that address (it bounced or reported our email before).', 'suppressed');
  const payload = JSON.stringify({ m: memberId, e: email, x: Math.floor(Date.now() / 1000) + CHANGE_HOURS * 3600 });
  const token = sign(ctx.secret, 'email-change', payload);
  const site = await getSiteSettings(db);
  const rendered = await automaticEmail(db, 'email_change', {
    lang: await emailLanguageOf(db, memberId),
    brand: await emailBrand(db, site, ctx.siteUrl),
    link: `${ctx.siteUrl}/account/email?token=${encodeURIComponent(token)}`,
    newEmail: email,
  });
  await queueEmail(db, { ...(await senderFor(db, ctx)), to: [email], ...rendered, tags: [{ name: 'kind', value: 'email-change' }] });
}

/** Checks an email-change link's signature and age without changing anything (the GET of the link). */
export function readEmailChangeToken(secret: string, token: string): { memberId: string; email: string } {
  const raw = token.length > 1000 ? null : verify(secret, 'email-change', token);
  let payload: { m?: unknown; e?: unknown; x?: unknown } = {};
  try {
    payload = raw ? (JSON.parse(raw) as typeof payload) : {};
  } catch {
    payload = {};
  }
  if (typeof payload.m !== 'string' || typeof payload.e !== 'string' || typeof payload.x !== 'number') {
    throw new ValidationError('This link is not valid. Ask for the change again from your account.', 'invalid_token');
  }
  if (payload.x * 1000 < Date.now())
    throw new ValidationError('This link has expired. Ask for the change again from your account.', 'expired_token');
  return { memberId: payload.m, email: payload.e };
}

/** Moves the membership to the new address (the POST from the link's page). */
export async function confirmEmailChange(
  db: Kysely<Database>,
  secret: string,
  token: string,
): Promise<{ memberId: string; email: string }> {
  const { memberId, email } = readEmailChangeToken(secret, token);
  await db.transaction().execute(async (trx) => {
    const taken = await trx
      .selectFrom('members')
      .select('id')
      .where(sql`lower(email)`, '=', email)
      .executeTakeFirst();
    if (taken && taken.id !== memberId) throw new ConflictError('Another membership already uses that address.', 'email_taken');
    const updated = await trx.updateTable('members').set({ email, updated_at: new Date() }).where('id', '=', memberId).executeTakeFirst();
    if (updated.numUpdatedRows === 0n) throw new ValidationError('This membership no longer exists.', 'member_gone');
    await recordEvent(trx, memberId, 'email_changed');
  });
  return { memberId, email };
}
