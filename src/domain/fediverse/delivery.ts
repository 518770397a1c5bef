import { signRequest, type HttpMessageSignaturesSpec } from '@fedify/fedify';
import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { requestPinned, resolveOutbound, UnsafeUrlError } from '../../lib/outbound-http.ts';
import { enqueue } from '../../lib/queue.ts';
import { dbNow } from '../../lib/sql.ts';
import { federationContext, type FediverseContext } from './federation.ts';
import { isBlockedHost } from './followers.ts';
import { SITE_ACTOR } from './objects.ts';

/**
 * Outbound activities, through graphile-worker. An activity for many followers becomes one
 * delivery per inbox, shared inboxes first (one per server), each its own job keyed by the
 * delivery's id: a retried job re-sends the same body with the same activity id, which the
 * receiver deduplicates, and (activity_id, inbox) is unique, so queueing the same activity
 * twice adds nothing. A failing server is retried with graphile-worker's exponential backoff up
 * to MAX_ATTEMPTS (about a day and a half), then its delivery is dropped and its followers
 * removed; one slow or dead server never holds the others (each delivery is its own job).
 */
export const MAX_ATTEMPTS = 12;

export async function queueDeliveries(
  db: Kysely<Database>,
  activityId: string,
  body: Record<string, unknown>,
  inboxes: string[],
): Promise<number> {
  const unique = [...new Set(inboxes)];
  if (unique.length === 0) return 0;
  const rows = await db
    .insertInto('fediverse_deliveries')
    .values(unique.map((inbox) => ({ activity_id: activityId, inbox, body: JSON.stringify(body) })))
    .onConflict((oc) => oc.columns(['activity_id', 'inbox']).doNothing())
    .returning('id')
    .execute();
  for (const { id } of rows) {
    await enqueue(db, 'fediverse_delivery', { deliveryId: id }, { jobKey: `fediverse_delivery:${id}`, maxAttempts: MAX_ATTEMPTS });
  }
  return rows.length;
}

/** To every follower: one inbox per server where the server has a shared inbox. */
export async function queueToFollowers(db: Kysely<Database>, activityId: string, body: Record<string, unknown>): Promise<number> {
  const rows = await db
    .selectFrom('fediverse_followers')
    .select((eb) => eb.fn.coalesce('shared_inbox', 'inbox').as('target'))
    .distinct()
    .execute();
  return queueDeliveries(
    db,
    activityId,
    body,
    rows.map((r) => r.target),
  );
}

export type DeliveryOutcome = 'delivered' | 'gone' | 'refused' | 'retry' | 'dropped';

/** What an answer means for the delivery: pure, tested without a server. */
export function judgeAnswer(status: number | undefined, attempt: number): DeliveryOutcome {
  if (status !== undefined && status >= 200 && status < 300) return 'delivered';
  if (status === 410) return 'gone';
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429) return 'refused';
  return attempt >= MAX_ATTEMPTS ? 'dropped' : 'retry';
}

async function post(deps: FediverseContext, inbox: string, body: string, spec: HttpMessageSignaturesSpec): Promise<number> {
  const ctx = federationContext(deps);
  const [key] = await ctx.getActorKeyPairs(SITE_ACTOR);
  if (!key) throw new Error('the site actor has no key');
  const unsigned = new Request(inbox, {
    method: 'POST',
    headers: { 'content-type': 'application/activity+json', accept: 'application/activity+json' },
    body,
  });
  const signed = await signRequest(unsigned, key.privateKey, key.keyId, { spec });
  const headers: Record<string, string> = { 'user-agent': 'Hearth (+ActivityPub)' };
  signed.headers.forEach((v, k) => (headers[k] = v));
  const target = await resolveOutbound(inbox, { allowPrivate: deps.allowPrivate });
  if (!deps.allowPrivate && target.url.protocol !== 'https:') throw new UnsafeUrlError('fediverse inboxes are reached over https only');
  const response = await requestPinned(target, { method: 'POST', headers, body, timeoutMs: 15_000, maxBytes: 64 * 1024 });
  return response.status;
}

/** The delivery job: sign (RFC 9421 first, draft-cavage when the server refuses it) and POST. Throws to retry. */
export async function runDelivery(deps: FediverseContext, deliveryId: string): Promise<DeliveryOutcome | 'skipped'> {
  const { db } = deps;
  const row = await db
    .updateTable('fediverse_deliveries')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', deliveryId)
    .where('status', '=', 'pending')
    .returning(['id', 'inbox', 'body', 'attempts'])
    .executeTakeFirst();
  if (!row) return 'skipped';
  const host = new URL(row.inbox).host;
  if (await isBlockedHost(db, host)) {
    await db.updateTable('fediverse_deliveries').set({ status: 'failed', last_error: 'server blocked' }).where('id', '=', row.id).execute();
    return 'refused';
  }
  const body = JSON.stringify(row.body);
  let status: number | undefined;
  let error: string | null = null;
  try {
    status = await post(deps, row.inbox, body, 'rfc9421');
    // Double knock: a server that does not read RFC 9421 yet refuses it; the older scheme then.
    if (status === 400 || status === 401 || status === 403) status = await post(deps, row.inbox, body, 'draft-cavage-http-signatures-12');
  } catch (err) {
    error = err instanceof Error ? err.message : String(err);
    if (err instanceof UnsafeUrlError) status = 400;
  }
  const outcome = judgeAnswer(status, row.attempts);
  const base = { last_status_code: status ?? null, last_error: error };
  if (outcome === 'delivered') {
    await db
      .updateTable('fediverse_deliveries')
      .set({ ...base, status: 'delivered', delivered_at: dbNow() })
      .where('id', '=', row.id)
      .execute();
  } else if (outcome === 'retry') {
    await db.updateTable('fediverse_deliveries').set(base).where('id', '=', row.id).execute();
    throw new Error(`delivery to ${host} failed (${status ?? error}); retrying`);
  } else {
    // One transaction: whoever sees the delivery failed also sees the followers gone.
    await db.transaction().execute(async (trx) => {
      await trx
        .updateTable('fediverse_deliveries')
        .set({ ...base, status: 'failed' })
        .where('id', '=', row.id)
        .execute();
      // A server that is gone, or dead after every retry: its followers get nothing more.
      if (outcome === 'gone' || outcome === 'dropped') {
        await trx
          .deleteFrom('fediverse_followers')
          .where((eb) => eb.or([eb('inbox', '=', row.inbox), eb('shared_inbox', '=', row.inbox)]))
          .execute();
      }
    });
  }
  return outcome;
}
