import { randomInt } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, Member } from '../../../db/types.ts';
import { automaticEmail } from '../emails/emails.ts';
import { queueEmail } from '../../lib/mail-queue.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { holdSignup } from './waves.ts';
import { hitRateLimit } from '../../lib/rate-limit.ts';
import { hmac } from '../../lib/tokens.ts';
import { ConflictError, NotFoundError, RateLimitedError, ValidationError } from '../../lib/errors.ts';
import { recordReferral } from '../referrals/guards.ts';
import { creditReferral } from '../referrals/referrals.ts';
import { emailBrand } from '../site/brand.ts';
import { getSiteSettings } from '../site/settings.ts';
import { SLUG_PATTERN } from '../newsletters/newsletters.ts';
import { senderFor } from '../newsletters/sender.ts';
import { emailProblemCode, invalidEmailError, normaliseEmail } from './email.ts';
import { checkLanguage, memberLanguage } from './language.ts';
import { recordEvent } from './events.ts';
import { CONFIRM_DAYS, confirmToken, confirmUrl, preferencesToken, preferencesUrl, readConfirmToken } from './links.ts';
import { attributePlatform, externalReferrerHost } from './sources.ts';
import { isSuppressed } from './suppression.ts';
import { enterAutomations } from '../automations/enter.ts';

/**
 * Subscribe → confirmation email → confirm → welcome email (double opt-in).
 *
 * The answer to a subscribe never depends on whether the address was known: every path ends
 * in "check your inbox". What differs is only what is written and mailed:
 * - new address: a pending member with its first-touch source, subscribed to the newsletters;
 * - pending: the confirmation is sent again (at most CONFIRMATIONS_PER_DAY a day);
 * - unsubscribed: back to pending, confirmation restarts;
 * - active: a confirmation that, when clicked, adds the newsletters asked for;
 * - bounced, complained or suppressed: nothing is mailed.
 */
export const SUBSCRIBE_LIMITS = {
  /** Many addresses from one network in an hour is list-bombing, not a household. */
  perIp: { limit: 10, windowSeconds: 3_600 },
  perAddress: { limit: 5, windowSeconds: 86_400 },
  confirmationsPerAddress: { limit: 3, windowSeconds: 86_400 },
};

export interface SubscribeRequest {
  email: string;
  name?: string | null | undefined;
  /** Newsletter slugs; none means the site's default newsletters. */
  newsletters?: string[] | undefined;
  ref?: string | null | undefined;
  utmSource?: string | null | undefined;
  utmMedium?: string | null | undefined;
  utmCampaign?: string | null | undefined;
  /** The external page the reader came from (the landing page passes it on as a hidden field). */
  referrer?: string | null | undefined;
  landingPlatform?: string | null | undefined;
  landingPage?: string | null | undefined;
  clientIp: string;
  /** For the referral fraud guards: reduced to a browser class, never stored as sent. */
  userAgent?: string | null | undefined;
  /** The member signed in on the browser that sent the form (a referrer referring themselves). */
  signedInMemberId?: string | null | undefined;
  /** The honeypot field: people leave it empty, form-filling bots do not. */
  honeypot?: string | null | undefined;
  /**
   * The language of the page they subscribed on (or of their browser, web/locale.ts): kept as the
   * member's language; an unknown code is a ValidationError.
   */
  language?: string | null | undefined;
}

export type SubscribeOutcome = 'created' | 'pending' | 'resubscribing' | 'adding_newsletters' | 'suppressed' | 'ignored_bot';

export interface SubscribeResult {
  outcome: SubscribeOutcome;
  confirmationQueued: boolean;
}

const clean = (value: string | null | undefined, max: number): string | null => {
  if (value === null || value === undefined) return null;
  // Control characters and bidi overrides have no place in a name or a campaign tag.
  const v = value.replace(/[\u0000-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  return v === '' ? null : v.slice(0, max);
};

const REFERRAL_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
export function newReferralCode(): string {
  let code = '';
  for (let i = 0; i < 10; i++) code += REFERRAL_ALPHABET[randomInt(REFERRAL_ALPHABET.length)];
  return code;
}

/** A site with no newsletter open (none made yet, or all archived) takes no subscribers. */
export class NotOpenError extends ConflictError {
  constructor() {
    super('This site is not open for subscriptions yet. Please come back soon.', 'not_open');
  }
}

/**
 * The newsletters a subscribe asks for: the slugs given, else the default, else the first open
 * newsletter. Archived newsletters take no new subscribers.
 */
async function resolveNewsletters(db: Kysely<Database>, slugs: string[]) {
  const wanted = [...new Set(slugs.map((s) => s.trim().toLowerCase()).filter(Boolean))];
  if (wanted.length > 50) throw new ValidationError('Choose at most 50 newsletters.', 'invalid_newsletter');
  const open = await db
    .selectFrom('newsletters')
    .select(['id', 'slug', 'name', 'is_default'])
    .where('archived_at', 'is', null)
    .orderBy('sort_order')
    .orderBy('id')
    .execute();
  if (open.length === 0) throw new NotOpenError();
  if (wanted.length === 0) return [open.find((n) => n.is_default) ?? open[0]!];
  const rows = open.filter((n) => wanted.includes(n.slug));
  const missing = wanted.filter((s) => !rows.some((r) => r.slug === s));
  if (missing.length > 0) {
    const archived = SLUG_PATTERN.test(missing[0]!)
      ? await db.selectFrom('newsletters').select('name').where('slug', '=', missing[0]!).executeTakeFirst()
      : undefined;
    if (archived)
      throw new ConflictError(`"${archived.name}" is closed to new subscribers.`, 'newsletter_archived').with({ name: archived.name });
    throw new ValidationError(`There is no newsletter called "${missing[0]!.slice(0, 60)}".`, 'unknown_newsletter').with({
      name: missing[0]!.slice(0, 60),
    });
  }
  return rows;
}

async function checkLimits(db: Kysely<Database>, secret: string, email: string, clientIp: string): Promise<void> {
  const byIp = await hitRateLimit(db, hmac(secret, 'ratelimit:subscribe:ip', clientIp), SUBSCRIBE_LIMITS.perIp);
  if (!byIp.allowed) {
    throw new RateLimitedError(byIp.retryAfter, 'Too many sign-ups from your network. Please try again later.').with({ reason: 'network' });
  }
  const byAddress = await hitRateLimit(db, hmac(secret, 'ratelimit:subscribe:address', email), SUBSCRIBE_LIMITS.perAddress);
  if (!byAddress.allowed) {
    throw new RateLimitedError(
      byAddress.retryAfter,
      'This address was entered many times today. Please check your inbox, or try again tomorrow.',
    ).with({ reason: 'address' });
  }
}

/** Locks the member row of an address (lower-cased), so concurrent subscribes serialise on it. */
export async function lockMemberByEmail(db: Kysely<Database>, email: string): Promise<Member | undefined> {
  return db
    .selectFrom('members')
    .selectAll()
    .where(sql`lower(email)`, '=', normaliseEmail(email))
    .forUpdate()
    .executeTakeFirst();
}

export async function subscribe(db: Kysely<Database>, ctx: SiteKeys, request: SubscribeRequest): Promise<SubscribeResult> {
  if (request.honeypot && request.honeypot.trim() !== '') return { outcome: 'ignored_bot', confirmationQueued: false };
  // First: a site that is not open says so, whatever the form held.
  const newsletters = await resolveNewsletters(db, request.newsletters ?? []);
  const problem = emailProblemCode(request.email);
  if (problem) throw invalidEmailError('Please check your email address', problem);
  const email = normaliseEmail(request.email);
  const name = clean(request.name, 200);
  const language = checkLanguage(request.language);
  await checkLimits(db, ctx.secret, email, request.clientIp);

  const siteHost = new URL(ctx.siteUrl).hostname;
  const referrerHost = externalReferrerHost(clean(request.referrer, 2000), siteHost);
  const ref = clean(request.ref, 32);

  return db.transaction().execute(async (trx) => {
    const suppressed = await isSuppressed(trx, email);
    const inserted = await trx
      .insertInto('members')
      .values({
        email,
        name,
        status: suppressed === 'complained' ? 'complained' : suppressed === 'bounced' ? 'bounced' : 'pending',
        tier_id: sql<string>`(select id from tiers where slug = 'free')` as unknown as string,
        source_platform: attributePlatform({
          landingPlatform: request.landingPlatform,
          utmSource: request.utmSource,
          ref,
          referrer: request.referrer,
          siteHost,
        }),
        utm_source: clean(request.utmSource, 200),
        utm_medium: clean(request.utmMedium, 200),
        utm_campaign: clean(request.utmCampaign, 200),
        referrer: referrerHost,
        ref: ref && /^[A-Za-z0-9_-]{3,32}$/.test(ref) ? ref : null,
        landing_page: clean(request.landingPage, 200),
        referral_code: newReferralCode(),
        language,
      })
      .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
      .returningAll()
      .executeTakeFirst();

    let member: Member;
    let outcome: SubscribeOutcome;
    if (inserted) {
      member = inserted;
      outcome = suppressed ? 'suppressed' : 'created';
      await trx
        .insertInto('member_newsletters')
        .values(newsletters.map((n) => ({ member_id: member.id, newsletter_id: n.id })))
        .execute();
      await recordEvent(trx, member.id, 'subscribed', { platform: member.source_platform, newsletters: newsletters.map((n) => n.slug) });
      if (member.ref && !suppressed) {
        await recordReferral(trx, ctx.secret, {
          referredId: member.id,
          referredEmail: member.email,
          ref: member.ref,
          clientIp: request.clientIp,
          userAgent: request.userAgent,
          signedInMemberId: request.signedInMemberId,
        });
      }
    } else {
      member = (await lockMemberByEmail(trx, email))!;
      if (suppressed || member.status === 'bounced' || member.status === 'complained') {
        outcome = 'suppressed';
      } else if (member.status === 'unsubscribed') {
        outcome = 'resubscribing';
        await trx.updateTable('members').set({ status: 'pending', updated_at: new Date() }).where('id', '=', member.id).execute();
        await trx
          .insertInto('member_newsletters')
          .values(newsletters.map((n) => ({ member_id: member.id, newsletter_id: n.id })))
          .onConflict((oc) => oc.doNothing())
          .execute();
        await recordEvent(trx, member.id, 'resubscribed', { newsletters: newsletters.map((n) => n.slug) });
      } else if (member.status === 'pending') {
        outcome = 'pending';
        await trx
          .insertInto('member_newsletters')
          .values(newsletters.map((n) => ({ member_id: member.id, newsletter_id: n.id })))
          .onConflict((oc) => oc.doNothing())
          .execute();
      } else {
        // Active: newsletters are added only when the owner of the address clicks.
        outcome = 'adding_newsletters';
      }
      if (name && !member.name) await trx.updateTable('members').set({ name }).where('id', '=', member.id).execute();
      // A language is kept once chosen: only a member without one takes the page's.
      if (language && !member.language) {
        await trx.updateTable('members').set({ language }).where('id', '=', member.id).execute();
        member = { ...member, language };
      }
    }

    if (outcome === 'suppressed') return { outcome, confirmationQueued: false };
    const allowed = await hitRateLimit(trx, hmac(ctx.secret, 'ratelimit:confirm-mail', email), SUBSCRIBE_LIMITS.confirmationsPerAddress);
    if (!allowed.allowed) return { outcome, confirmationQueued: false };
    // A sign-up wave or the site's hourly ceiling on confirmations: recorded, held, not mailed (waves.ts).
    if (await holdSignup(trx, ctx.secret, { member, newsletterIds: newsletters.map((n) => n.id), isNew: outcome === 'created', request }))
      return { outcome, confirmationQueued: false };
    await queueConfirmation(
      trx,
      ctx,
      { id: member.id, email: member.email, name: name ?? member.name, language: member.language },
      newsletters,
    );
    return { outcome, confirmationQueued: true };
  });
}

/** The confirmation email of a sign-up (also sent when staff release a held one: waves.ts). */
export async function queueConfirmation(
  trx: Kysely<Database>,
  ctx: SiteKeys,
  member: { id: string; email: string; name: string | null; language?: string | null | undefined },
  newsletters: ReadonlyArray<{ id: string; name: string }>,
  options: { idempotencyKey?: string } = {},
): Promise<void> {
  const site = await getSiteSettings(trx);
  const token = confirmToken(
    ctx.secret,
    member.id,
    newsletters.map((n) => n.id),
  );
  const rendered = await automaticEmail(trx, 'confirmation', {
    lang: memberLanguage({ language: member.language ?? null }, site),
    brand: await emailBrand(trx, site, ctx.siteUrl),
    name: member.name,
    newsletters: newsletters.map((n) => n.name),
    confirmUrl: confirmUrl(ctx.siteUrl, token),
    validDays: CONFIRM_DAYS,
  });
  const sender = await senderFor(
    trx,
    ctx,
    newsletters.map((n) => n.id),
  );
  await queueEmail(trx, { ...sender, to: [member.email], ...rendered, tags: [{ name: 'kind', value: 'confirm-subscription' }] }, options);
}

export interface ConfirmResult {
  /** confirmed: the member just became active; updated: newsletters added to an active member. */
  result: 'confirmed' | 'updated' | 'suppressed';
  newsletters: string[];
  preferencesToken: string;
}

/** Confirms a subscription from the emailed link. Clicking it twice is harmless. */
export async function confirmSubscription(db: Kysely<Database>, ctx: SiteKeys, token: string): Promise<ConfirmResult> {
  const { memberId, newsletterIds } = readConfirmToken(ctx.secret, token);
  return db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('members').selectAll().where('id', '=', memberId).forUpdate().executeTakeFirst();
    if (!member) throw new NotFoundError('This subscription no longer exists. Subscribe again to start over.', 'member_gone');
    const prefs = preferencesToken(ctx.secret, member.id);
    if (member.status === 'bounced' || member.status === 'complained' || (await isSuppressed(trx, member.email))) {
      return { result: 'suppressed', newsletters: [], preferencesToken: prefs };
    }
    const newsletters = newsletterIds.length
      ? await trx
          .selectFrom('newsletters')
          .select(['id', 'name'])
          .where('id', 'in', newsletterIds)
          // Archived since the email was sent: it takes no new subscribers.
          .where('archived_at', 'is', null)
          .orderBy('sort_order')
          .execute()
      : [];
    if (newsletters.length > 0) {
      await trx
        .insertInto('member_newsletters')
        .values(newsletters.map((n) => ({ member_id: member.id, newsletter_id: n.id })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
    if (member.status === 'active') {
      await recordEvent(trx, member.id, 'newsletters_changed', { added: newsletters.map((n) => n.name) });
      return { result: 'updated', newsletters: newsletters.map((n) => n.name), preferencesToken: prefs };
    }
    const firstConfirmation = member.confirmed_at === null;
    await trx
      .updateTable('members')
      .set({
        status: 'active',
        confirmed_at: member.confirmed_at ?? new Date(),
        unsubscribed_at: null,
        updated_at: new Date(),
      })
      .where('id', '=', member.id)
      .execute();
    await recordEvent(trx, member.id, 'confirmed', { newsletters: newsletters.map((n) => n.name) });
    // Welcome sequences and other automations that start at confirmation (domain/automations).
    await enterAutomations(trx, 'subscription_confirmed', [member.id]);
    // A friend's referral counts now (or is held, when a fraud guard flagged it).
    await creditReferral(trx, member.id);
    if (firstConfirmation) {
      const site = await getSiteSettings(trx);
      const rendered = await automaticEmail(trx, 'welcome', {
        lang: memberLanguage(member, site),
        brand: await emailBrand(trx, site, ctx.siteUrl),
        name: member.name,
        newsletters: newsletters.map((n) => n.name),
        preferencesUrl: preferencesUrl(ctx.siteUrl, prefs),
      });
      const sender = await senderFor(
        trx,
        ctx,
        newsletters.map((n) => n.id),
      );
      await queueEmail(
        trx,
        {
          ...sender,
          to: [member.email],
          ...rendered,
          headers: listUnsubscribeHeaders(ctx.siteUrl, prefs),
          tags: [{ name: 'kind', value: 'welcome' }],
        },
        { idempotencyKey: `welcome-${member.id}` },
      );
    }
    return { result: 'confirmed', newsletters: newsletters.map((n) => n.name), preferencesToken: prefs };
  });
}

/** RFC 8058 one-click unsubscribe headers for an email to a member. */
export function listUnsubscribeHeaders(siteUrl: string, prefsToken: string): Record<string, string> {
  return {
    'List-Unsubscribe': `<${preferencesUrl(siteUrl, prefsToken)}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
}
