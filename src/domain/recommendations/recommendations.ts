import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { parseOutboundUrl, UnsafeUrlError } from '../../lib/outbound-http.ts';
import { detectKind } from './kind.ts';

/**
 * Recommendations without a marketplace: staff list newsletters they recommend (any site); readers
 * see them after subscribing and at /.well-known/recommendations.json (Ghost's format: an array of
 * {url, created_at, updated_at}). Readers sent each way are counted, nothing else: a click on a
 * recommendation goes out through /recommendations/:id/go (counted, tagged `ref=<our host>` and
 * `utm_medium=recommendation`), and members who arrive from another site's recommendation are
 * counted by their utm_source. A recommended Hearth site (kind.ts recognises Hearth and Ghost
 * sites when staff save one) can also be subscribed to in one step from the confirmation page
 * (subscribe.ts); those readers count as sent too. No money, no reader data.
 */
export interface NewRecommendation {
  url: string;
  name: string;
  reason?: string | undefined;
}

/** Saves a recommendation (the same address again updates it) and checks what kind of site it is. */
export async function createRecommendation(db: Kysely<Database>, input: NewRecommendation, options: { allowPrivate: boolean }) {
  let url: URL;
  try {
    url = parseOutboundUrl(input.url.trim());
  } catch (err) {
    if (err instanceof UnsafeUrlError) throw new ValidationError(`The address is not valid: ${err.message}`, 'invalid_url');
    throw err;
  }
  const name = input.name.trim();
  if (name.length === 0 || name.length > 120)
    throw new ValidationError('Give the newsletter a name of 1 to 120 characters.', 'invalid_name');
  const reason = (input.reason ?? '').trim();
  if (reason.length > 500) throw new ValidationError('The reason may be at most 500 characters.', 'invalid_reason');
  const href = url.origin + (url.pathname === '/' ? '/' : url.pathname.replace(/\/+$/, '/'));
  // Before any write, outside a transaction: the staff request waits at most DETECT_TIMEOUT_MS.
  const kind = await detectKind(href, options);
  const checked_at = new Date();
  return db
    .insertInto('recommendations')
    .values({ url: href, name, reason, kind, checked_at })
    .onConflict((oc) => oc.column('url').doUpdateSet({ name, reason, kind, checked_at, updated_at: new Date() }))
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function deleteRecommendation(db: Kysely<Database>, id: string): Promise<void> {
  if (!/^\d{1,18}$/.test(id)) throw new NotFoundError('No such recommendation.', 'recommendation_not_found');
  const r = await db.deleteFrom('recommendations').where('id', '=', id).executeTakeFirst();
  if (Number(r.numDeletedRows) === 0) throw new NotFoundError('No such recommendation.', 'recommendation_not_found');
}

/**
 * Each recommendation with the readers sent to it (clicks on its link, and readers subscribed in
 * one step) and the members its site sent us (by their utm_source).
 */
export async function listRecommendations(db: Kysely<Database>) {
  const rows = await db
    .selectFrom('recommendations as r')
    .selectAll('r')
    .select((eb) =>
      eb
        .selectFrom('recommendation_subscriptions as s')
        .select(sql<number>`count(*)::int`.as('n'))
        .whereRef('s.recommendation_id', '=', 'r.id')
        .where('s.status', '=', 'sent')
        .as('subscribed'),
    )
    .orderBy('r.id')
    .execute();
  const hosts = rows.map((r) => new URL(r.url).host);
  const received = hosts.length
    ? await db
        .selectFrom('members')
        .select(['utm_source', sql<number>`count(*)::int`.as('n')])
        .where('utm_medium', '=', 'recommendation')
        .where('utm_source', 'in', hosts)
        .groupBy('utm_source')
        .execute()
    : [];
  return rows.map((r) => ({
    ...r,
    subscribed: r.subscribed ?? 0,
    received: received.find((x) => x.utm_source === new URL(r.url).host)?.n ?? 0,
  }));
}

/** A reader follows a recommendation: counted, and sent on tagged with where they came from. */
export async function followRecommendation(db: Kysely<Database>, id: string, siteUrl: string): Promise<string> {
  if (!/^\d{1,18}$/.test(id)) throw new NotFoundError('No such recommendation.', 'recommendation_not_found');
  const row = await db
    .updateTable('recommendations')
    .set((eb) => ({ clicks: eb('clicks', '+', 1) }))
    .where('id', '=', id)
    .returning('url')
    .executeTakeFirst();
  if (!row) throw new NotFoundError('No such recommendation.', 'recommendation_not_found');
  const target = new URL(row.url);
  const host = new URL(siteUrl).host;
  target.searchParams.set('ref', host);
  target.searchParams.set('utm_source', host);
  target.searchParams.set('utm_medium', 'recommendation');
  return target.href;
}

/** /.well-known/recommendations.json, as Ghost writes it. */
export async function wellKnownRecommendations(db: Kysely<Database>) {
  const rows = await db.selectFrom('recommendations').select(['url', 'created_at', 'updated_at']).orderBy('id').execute();
  return rows.map((r) => ({ url: r.url, updated_at: r.updated_at.toISOString(), created_at: r.created_at.toISOString() }));
}
