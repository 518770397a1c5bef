import { sql, type Kysely } from 'kysely';
import type { BatchPart, Database, SendStatus } from '../../../db/types.ts';
import { statusFromBatches, type BatchCounts } from './lifecycle.ts';
import { variantOfCode, type BatchDelivery, type FixedSend, type RenderedSend } from './payload.ts';
import type { PostedOutcome } from './poster.ts';
import { dbNow } from '../../lib/sql.ts';
import { liveSendPaused, liveSendProgress, liveSendResumed, liveSendSettled } from '../live/hooks.ts';
import { emitWebhookEvent } from '../webhooks/events.ts';

/**
 * The send engine's store: claim the next batch, mark what the provider answered. The engine
 * (engine.ts) sees only this interface and the mailer port; this file is its Postgres side.
 *
 * A claim is a lease (LEASE_SECONDS, longer than a provider request may take): a batch whose
 * lease ran out — its worker died mid-request — is claimed again and re-posted under the same
 * idempotency key with the same payload. Marking is guarded by the batch's status, so a batch
 * marked twice (two workers both finished it) counts once. Marks touch only their own batch and
 * deliveries, never the send's row, so lanes never wait on each other.
 */
export interface ClaimedBatch {
  sendId: string;
  batch: number;
  /** Attempts including this one. */
  attempts: number;
  deliveries: BatchDelivery[];
}

export type Claim =
  | { kind: 'batch'; batch: ClaimedBatch }
  /** Open batches exist, but none is due before `until` (backoff) or they are leased elsewhere. */
  | { kind: 'wait'; until: Date }
  /** Every batch is settled. */
  | { kind: 'done' }
  /** The send is not sending (paused, cancelled, failed). */
  | { kind: 'stopped' };

export type { PostedOutcome };

export interface SendStore {
  fixedSend(sendId: string): Promise<FixedSend>;
  claim(sendId: string, owner: string): Promise<Claim>;
  markPosted(batch: ClaimedBatch, outcome: PostedOutcome): Promise<void>;
  /**
   * Just before posting: whether the send is still sending. When it is not (paused or
   * cancelled while this lane waited for its slot), the batch is handed back unposted.
   */
  stillSending(batch: ClaimedBatch, owner: string): Promise<boolean>;
  /** Back to pending after `delaySeconds`; a 429 does not count as an attempt. */
  retryLater(batch: ClaimedBatch, owner: string, error: string, delaySeconds: number, countsAsAttempt: boolean): Promise<void>;
  /** The batch gave up: the send fails with this reason (its remainder can be retried). */
  giveUp(batch: ClaimedBatch, owner: string, error: string): Promise<void>;
  /** Once every batch is settled: sent or failed. */
  settle(sendId: string): Promise<SendStatus>;
}

export const LEASE_SECONDS = 90;

/**
 * Before a batch's first post: members who unsubscribed, bounced, complained, were erased or
 * suppressed since the snapshot are skipped. Decided once and written down, so every later
 * attempt of the batch posts the same emails.
 */
async function skipLeavers(db: Kysely<Database>, sendId: string, first: string, last: string, part: BatchPart): Promise<void> {
  // One statement, so the skips and the send's counter commit together.
  await sql`
    with skipped as (
      update deliveries d set status = 'skipped'
       where d.send_id = ${sendId} and d.member_id between ${first} and ${last} and d.status = 'queued' and ${partFilter(part)}
         and (not exists (select 1 from members m where m.id = d.member_id and m.status = 'active')
              or exists (select 1 from suppressions s where s.email_hash = encode(sha256(convert_to(lower(d.email), 'UTF8')), 'hex')))
      returning 1
    )
    update sends set skipped = skipped + (select count(*) from skipped)::int
     where id = ${sendId} and exists (select 1 from skipped)
  `.execute(db);
}

/**
 * A subject test's sample and rest interleave by member id, so their batches' ranges overlap:
 * the part says which deliveries of the range belong to the batch (the sample's carry a subject).
 */
function partFilter(part: BatchPart) {
  return part === 'sample' ? sql<boolean>`d.subject is not null` : part === 'rest' ? sql<boolean>`d.subject is null` : sql<boolean>`true`;
}

/**
 * The provider stopped a batch: the send is "paused by the provider" from now until it accepts
 * one again. Only the first of the lanes to see it flips the column, so the live feed hears of
 * the pause once, however many batches are put back during it.
 */
async function beginProviderPause(
  trx: Kysely<Database>,
  sendId: string,
  reason: 'rate_limited' | 'provider_error',
  error: string,
): Promise<void> {
  const paused = await trx
    .updateTable('sends')
    .set({ provider_paused_at: dbNow() })
    .where('id', '=', sendId)
    .where('status', '=', 'sending')
    .where('provider_paused_at', 'is', null)
    .returning('provider_paused_at')
    .executeTakeFirst();
  if (paused?.provider_paused_at) await liveSendPaused(trx, sendId, { at: paused.provider_paused_at, reason, error });
}

/**
 * A batch was accepted: a pause, if one was on, is over. While none is (nearly always), the
 * update finds no row to change and takes no lock, so lanes still never wait on the send's row.
 */
async function endProviderPause(trx: Kysely<Database>, sendId: string): Promise<void> {
  const resumed = await sql<{ paused_at: Date }>`
    update sends s set provider_paused_at = null
      from (select id, provider_paused_at from sends where id = ${sendId}) old
     where s.id = old.id and s.provider_paused_at is not null
    returning old.provider_paused_at as paused_at
  `.execute(trx);
  const row = resumed.rows[0];
  if (row) await liveSendResumed(trx, sendId, row.paused_at);
}

export function createSendStore(db: Kysely<Database>): SendStore {
  return {
    async fixedSend(sendId) {
      const row = await db
        .selectFrom('sends')
        .select(['id', 'from_address', 'reply_to', 'rendered', 'track_members', 'subjects'])
        .where('id', '=', sendId)
        .executeTakeFirstOrThrow();
      if (!row.from_address || !row.rendered) throw new Error(`send ${sendId} was not prepared`);
      const links = await db.selectFrom('send_links').select(['link', 'url']).where('send_id', '=', sendId).orderBy('link').execute();
      return {
        id: row.id,
        from: row.from_address,
        replyTo: row.reply_to,
        rendered: row.rendered as unknown as RenderedSend,
        links: links.map((l) => l.url),
        trackMembers: row.track_members,
        subjects: row.subjects,
      };
    },

    async claim(sendId, owner) {
      // The partial index holds only open batches, in batch order: the first due one is found
      // without reading settled batches, whatever the send's size. SKIP LOCKED lets lanes on
      // other workers claim the next one at the same moment instead of waiting.
      const claimed = await sql<{ batch: number; first_member: string; last_member: string; attempts: number; part: BatchPart }>`
        update send_batches b
           set status = 'posting', attempts = b.attempts + 1, lease_until = now() + make_interval(secs => ${LEASE_SECONDS}), claimed_by = ${owner}
         where (b.send_id, b.batch) = (
                 select o.send_id, o.batch from send_batches o
                  where o.send_id = ${sendId}
                    and o.status in ('pending', 'posting')
                    and ((o.status = 'pending' and o.next_attempt_at <= now()) or (o.status = 'posting' and o.lease_until < now()))
                    and exists (select 1 from sends s where s.id = ${sendId} and s.status = 'sending')
                  order by o.batch
                  limit 1
                  for update skip locked)
        returning b.batch, b.first_member, b.last_member, b.attempts, b.part
      `.execute(db);
      const row = claimed.rows[0];
      if (row) {
        if (row.attempts === 1) await skipLeavers(db, sendId, row.first_member, row.last_member, row.part);
        // The rest of a subject test gets the winner: written once, before its batches were released.
        const deliveries = await db
          .selectFrom('deliveries as d')
          .select(['d.member_id', 'd.email', 'd.name', 'd.referral_code', 'd.variant', 'd.language'])
          .select(
            row.part === 'rest'
              ? sql<number | null>`(select s.winner from sends s where s.id = ${sendId})`.as('subject')
              : sql<number | null>`d.subject`.as('subject'),
          )
          .where('d.send_id', '=', sendId)
          .where('d.member_id', '>=', row.first_member)
          .where('d.member_id', '<=', row.last_member)
          .where('d.status', '<>', 'skipped')
          .where(partFilter(row.part))
          .orderBy('d.member_id')
          .execute();
        return {
          kind: 'batch',
          batch: {
            sendId,
            batch: row.batch,
            attempts: row.attempts,
            deliveries: deliveries.map((d) => ({
              memberId: d.member_id,
              email: d.email,
              name: d.name,
              referralCode: d.referral_code,
              variant: variantOfCode(d.variant),
              subject: d.subject,
              language: d.language,
            })),
          },
        };
      }
      const send = await db.selectFrom('sends').select('status').where('id', '=', sendId).executeTakeFirst();
      if (send?.status !== 'sending') return { kind: 'stopped' };
      const open = await db
        .selectFrom('send_batches')
        .select(sql<Date | null>`min(case when status = 'pending' then next_attempt_at else lease_until end)`.as('until'))
        .where('send_id', '=', sendId)
        .where('status', 'in', ['pending', 'posting'])
        .executeTakeFirstOrThrow();
      return open.until ? { kind: 'wait', until: new Date(open.until) } : { kind: 'done' };
    },

    async markPosted(batch, outcome) {
      const rejectedAt = new Map(outcome.rejected.map((r) => [r.index, r.message]));
      const rows = batch.deliveries.map((d, i) => ({
        member_id: d.memberId,
        provider_id: outcome.ids[i] ?? null,
        status: rejectedAt.has(i) ? 'rejected' : 'posted',
        error: rejectedAt.get(i)?.slice(0, 500) ?? null,
      }));
      const rejected = rows.filter((r) => r.status === 'rejected').length;
      await db.transaction().execute(async (trx) => {
        // A mark lost in a crash only means the batch is posted again under its key, which the
        // provider answers from its idempotency record: no need to wait for the disk here.
        await sql`set local synchronous_commit = off`.execute(trx);
        const marked = await trx
          .updateTable('send_batches')
          .set({
            status: 'posted',
            posted_at: dbNow(),
            lease_until: null,
            error: null,
            posted_count: rows.length - rejected,
            rejected_count: rejected,
          })
          .where('send_id', '=', batch.sendId)
          .where('batch', '=', batch.batch)
          .where('status', '<>', 'posted')
          .returning('batch')
          .executeTakeFirst();
        if (!marked) return; // another worker finished this batch first
        await liveSendProgress(trx, batch.sendId);
        await endProviderPause(trx, batch.sendId);
        // One statement for the whole batch.
        await sql`
          update deliveries d
             set status = v.status, provider_id = v.provider_id, error = v.error, posted_at = now()
            from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(member_id bigint, provider_id text, status text, error text)
           where d.send_id = ${batch.sendId} and d.member_id = v.member_id
             -- The batch's range: without it the planner hashes every delivery of the send (40 ms
             -- a batch at 100,000 recipients instead of 1).
             and d.member_id between ${batch.deliveries[0]?.memberId ?? '0'} and ${batch.deliveries.at(-1)?.memberId ?? '0'}
        `.execute(trx);
      });
    },

    async stillSending(batch, owner) {
      const send = await db.selectFrom('sends').select('status').where('id', '=', batch.sendId).executeTakeFirst();
      if (send?.status === 'sending') return true;
      // Not posted: back to pending (a cancelled send's batches are cancelled), attempt not counted.
      await sql`
        update send_batches b
           set status = case when s.status = 'cancelled' then 'cancelled' else 'pending' end,
               attempts = b.attempts - 1, lease_until = null
          from sends s
         where s.id = b.send_id and b.send_id = ${batch.sendId} and b.batch = ${batch.batch} and b.status = 'posting' and b.claimed_by = ${owner}
      `.execute(db);
      return false;
    },

    async retryLater(batch, owner, error, delaySeconds, countsAsAttempt) {
      await db.transaction().execute(async (trx) => {
        const back = await trx
          .updateTable('send_batches')
          .set((eb) => ({
            status: 'pending',
            lease_until: null,
            error: error.slice(0, 500),
            next_attempt_at: dbNow({ seconds: delaySeconds }),
            attempts: countsAsAttempt ? eb.ref('attempts') : eb('attempts', '-', 1),
          }))
          .where('send_id', '=', batch.sendId)
          .where('batch', '=', batch.batch)
          .where('status', '=', 'posting')
          .where('claimed_by', '=', owner)
          .returning('batch')
          .executeTakeFirst();
        // Only the provider puts a batch back (a 429 is the one not counted as an attempt).
        if (back) await beginProviderPause(trx, batch.sendId, countsAsAttempt ? 'provider_error' : 'rate_limited', error);
      });
    },

    async giveUp(batch, owner, error) {
      await db.transaction().execute(async (trx) => {
        const failed = await trx
          .updateTable('send_batches')
          .set({ status: 'failed', lease_until: null, error: error.slice(0, 500) })
          .where('send_id', '=', batch.sendId)
          .where('batch', '=', batch.batch)
          .where('status', '=', 'posting')
          .where('claimed_by', '=', owner)
          .returning('batch')
          .executeTakeFirst();
        if (!failed) return;
        const ended = await trx
          .updateTable('sends')
          .set({
            status: 'failed',
            error: `Batch ${batch.batch} gave up after ${batch.attempts} attempts: ${error}`.slice(0, 1000),
            finished_at: dbNow(),
            provider_paused_at: null,
          })
          .where('id', '=', batch.sendId)
          .where('status', '=', 'sending')
          .returning('id')
          .executeTakeFirst();
        if (ended) await liveSendSettled(trx, batch.sendId, 'failed');
      });
    },

    async settle(sendId) {
      return db.transaction().execute(async (trx) => {
        const send = await trx.selectFrom('sends').select('status').where('id', '=', sendId).forUpdate().executeTakeFirstOrThrow();
        if (send.status !== 'sending') return send.status;
        const counts = await trx
          .selectFrom('send_batches')
          .select(['status', sql<string>`count(*)`.as('n')])
          .where('send_id', '=', sendId)
          .groupBy('status')
          .execute();
        const byStatus: BatchCounts = Object.fromEntries(counts.map((c) => [c.status, Number(c.n)]));
        const status = statusFromBatches(byStatus);
        if (status === 'sending') return status;
        await trx
          .updateTable('sends')
          .set({
            status,
            finished_at: dbNow(),
            ...(status === 'failed' ? { error: 'Some batches could not be posted; retry the remainder.' } : {}),
          })
          .where('id', '=', sendId)
          .execute();
        if (status === 'sent') await emitWebhookEvent(trx, 'send.sent', { id: sendId });
        await liveSendSettled(trx, sendId, status);
        return status;
      });
    },
  };
}
