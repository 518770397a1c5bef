import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { requestPinned, resolveOutbound, UnsafeUrlError } from '../../lib/outbound-http.ts';
import { enqueue } from '../../lib/queue.ts';
import { dbNow } from '../../lib/sql.ts';
import { sign, verify } from '../../lib/tokens.ts';

/**
 * Subscribing to a recommended Hearth site in one step, from the confirmation page.
 *
 * The reader who has just confirmed ticks the recommended Hearth sites they want; the page posts
 * the ticks with a signed token naming the reader (`readerToken`, a day long). Each tick becomes
 * one recommendation_subscriptions row (a second tick adds nothing) and one job; the job posts
 * the reader's address, and nothing else (no name, no newsletters, no history), to that site's
 * public `POST /subscribe`, tagged `utm_source=<our host>, utm_medium=recommendation` so that
 * site counts the reader as sent by us. That site then sends its own confirmation email: the
 * reader is subscribed there only when they confirm there (double opt-in on each site).
 *
 * The reader's request waits on no other server (the job does the posting); the job's request
 * goes through the SSRF guard and is bounded in time and size; 429, 5xx and no answer are
 * retried with the queue's backoff, any other refusal is recorded as failed.
 */
const TOKEN_PURPOSE = 'recommendation-subscribe';
const TOKEN_SECONDS = 86_400;
export const SUBSCRIBE_MAX_ATTEMPTS = 8;
const SUBSCRIBE_TIMEOUT_MS = 10_000;

export function readerToken(secret: string, memberId: string, now = Date.now()): string {
  return sign(secret, TOKEN_PURPOSE, JSON.stringify({ m: memberId, e: Math.floor(now / 1000) + TOKEN_SECONDS }));
}

export function readReaderToken(secret: string, token: string, now = Date.now()): string {
  const raw = token.length > 500 ? null : verify(secret, TOKEN_PURPOSE, token);
  let payload: { m?: unknown; e?: unknown } | null = null;
  try {
    payload = raw ? (JSON.parse(raw) as { m?: unknown; e?: unknown }) : null;
  } catch {
    payload = null;
  }
  if (!payload || !isId(payload.m) || typeof payload.e !== 'number')
    throw new ValidationError('This page has expired. Subscribe on the recommended site itself.', 'invalid_token');
  if (payload.e * 1000 < now)
    throw new ValidationError('This page has expired. Subscribe on the recommended site itself.', 'expired_token');
  return payload.m;
}

/** The recommended Hearth sites a reader may subscribe to in one step. */
export async function oneStepRecommendations(db: Kysely<Database>) {
  return db.selectFrom('recommendations').select(['id', 'name', 'url', 'reason']).where('kind', '=', 'hearth').orderBy('id').execute();
}

/**
 * The reader asked to be subscribed to these recommendations: the names of the sites that will
 * email them (a recommendation that is gone or not a Hearth site is left out).
 */
export async function askToSubscribe(db: Kysely<Database>, secret: string, token: string, recommendationIds: string[]): Promise<string[]> {
  const memberId = readReaderToken(secret, token);
  const ids = [...new Set(recommendationIds.filter(isId))].slice(0, 50);
  if (ids.length === 0) throw new ValidationError('Tick at least one newsletter.', 'nothing_chosen');
  return db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('members').select(['id', 'status']).where('id', '=', memberId).executeTakeFirst();
    // Only a reader who confirmed here: their address is known to be theirs.
    if (!member || member.status !== 'active')
      throw new ValidationError('This page has expired. Subscribe on the recommended site itself.', 'not_active');
    const recs = await trx
      .selectFrom('recommendations')
      .select(['id', 'name'])
      .where('id', 'in', ids)
      .where('kind', '=', 'hearth')
      .orderBy('id')
      .execute();
    for (const rec of recs) {
      const row = await trx
        .insertInto('recommendation_subscriptions')
        .values({ recommendation_id: rec.id, member_id: memberId })
        .onConflict((oc) => oc.columns(['recommendation_id', 'member_id']).doNothing())
        .returning('recommendation_id')
        .executeTakeFirst();
      if (row)
        await enqueue(
          trx,
          'recommendation_subscribe',
          { recommendationId: rec.id, memberId },
          { jobKey: `recommendation_subscribe:${rec.id}:${memberId}`, maxAttempts: SUBSCRIBE_MAX_ATTEMPTS },
        );
    }
    return recs.map((r) => r.name);
  });
}

export type SubscribeOutcome = 'sent' | 'failed' | 'skipped';

/** What an answer means: pure. 2xx sent; 408, 429, 5xx or no answer retried; any other refusal failed. */
export function judgeSubscribeAnswer(status: number | undefined, attempt: number): 'sent' | 'failed' | 'retry' {
  if (status !== undefined && status >= 200 && status < 300) return 'sent';
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) return 'failed';
  return attempt >= SUBSCRIBE_MAX_ATTEMPTS ? 'failed' : 'retry';
}

/** The job: post the reader's address to the recommended site's /subscribe. Throws to retry. */
export async function runRecommendationSubscribe(
  deps: { db: Kysely<Database>; siteUrl: string; allowPrivate: boolean },
  recommendationId: string,
  memberId: string,
  attempt: number,
): Promise<SubscribeOutcome> {
  const { db } = deps;
  const row = await db
    .selectFrom('recommendation_subscriptions as s')
    .innerJoin('recommendations as r', 'r.id', 's.recommendation_id')
    .innerJoin('members as m', 'm.id', 's.member_id')
    .select(['r.url', 'm.email', 'm.status as member_status'])
    .where('s.recommendation_id', '=', recommendationId)
    .where('s.member_id', '=', memberId)
    .where('s.status', '=', 'queued')
    .executeTakeFirst();
  if (!row) return 'skipped';
  const mark = (status: 'sent' | 'failed', error: string | null) =>
    db
      .updateTable('recommendation_subscriptions')
      .set({ status, last_error: error, ...(status === 'sent' ? { sent_at: dbNow() } : {}) })
      .where('recommendation_id', '=', recommendationId)
      .where('member_id', '=', memberId)
      .execute();
  // A reader who left in the meantime is not passed on.
  if (row.member_status !== 'active') {
    await mark('failed', 'the reader is no longer subscribed here');
    return 'failed';
  }
  const host = new URL(deps.siteUrl).host;
  const body = JSON.stringify({ email: row.email, utm_source: host, utm_medium: 'recommendation' });
  let status: number | undefined;
  let error: string | null = null;
  try {
    const target = await resolveOutbound(new URL('/subscribe', row.url).href, { allowPrivate: deps.allowPrivate });
    // A reader's address never crosses the network in clear (plain http only between test sites).
    if (!deps.allowPrivate && target.url.protocol !== 'https:') throw new UnsafeUrlError('one-step subscriptions go over https only');
    const response = await requestPinned(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'Hearth (+recommendations)' },
      body,
      timeoutMs: SUBSCRIBE_TIMEOUT_MS,
      maxBytes: 64 * 1024,
    });
    status = response.status;
    if (!response.ok) error = `answered ${status}`;
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    if (err instanceof UnsafeUrlError) status = 400;
  }
  const outcome = judgeSubscribeAnswer(status, attempt);
  if (outcome === 'retry') {
    await db
      .updateTable('recommendation_subscriptions')
      .set({ last_error: error })
      .where('recommendation_id', '=', recommendationId)
      .where('member_id', '=', memberId)
      .execute();
    throw new Error(`subscribing at ${new URL(row.url).host} failed (${error}); retrying`);
  }
  await mark(outcome, error);
  return outcome;
}
