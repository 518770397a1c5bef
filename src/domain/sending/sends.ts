import { sql, type Kysely } from 'kysely';
import type { Database, SendStatus } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { decodeKeyset, keysetPage } from '../../lib/keyset.ts';
import { enqueueLanes, enqueuePrepare, removePrepare, removeWinnerJob } from './jobs.ts';
import { formatDuration, parseSubjectTest, settleWinnerByHand } from './subject-test.ts';
import { getSiteSettings } from '../site/settings.ts';
import { commandTarget, type SendCommand } from './lifecycle.ts';
import { countRecipients, describeSegment, parseSegmentInput, resolveSegment, segmentView, type Segment } from './segments.ts';
import { dbNow } from '../../lib/sql.ts';
import { checkNotClipped } from '../content/email-size.ts';

/**
 * Sends: creating one (as a draft, or scheduled at a time or after the undo window), and the
 * commands staff give it (undo, cancel, pause, resume, retry). Preparation is prepare.ts; the
 * posting loop is engine.ts. Every command locks the send's row, so a command and a worker
 * never both decide its status.
 */
export const DEFAULT_UNDO_SECONDS = 30;
export const MAX_UNDO_SECONDS = 3600;
const MAX_SCHEDULE_DAYS = 366;

export interface CreateSendInput {
  postId: string;
  segment: unknown;
  /** A chosen time; otherwise now plus the undo window. */
  sendAt?: Date | undefined;
  undoSeconds?: number | undefined;
  /** Keep it as a draft (not scheduled). */
  draft?: boolean | undefined;
  staffId?: string | null | undefined;
  /** A subject test: 2–4 subject lines, and the sample's share and the wait (subject-test.ts). */
  subjects?: unknown;
  test?: { sample?: unknown; wait?: unknown } | undefined;
  /** Refuse an email Gmail would clip (content/email-size.ts) unless `confirmed`; the admin form and the API ask for it. */
  clipCheck?: { siteUrl: string; confirmed: boolean } | undefined;
}

function checkUndo(value: number | undefined): number {
  const undo = value ?? DEFAULT_UNDO_SECONDS;
  if (!Number.isInteger(undo) || undo < 0 || undo > MAX_UNDO_SECONDS) {
    throw new ValidationError(`undo_seconds must be a whole number from 0 to ${MAX_UNDO_SECONDS}.`, 'invalid_undo');
  }
  return undo;
}

function checkSendAt(sendAt: Date | undefined): void {
  if (sendAt === undefined) return;
  if (Number.isNaN(sendAt.getTime()))
    throw new ValidationError('send_at must be a date and time, like 2026-12-01T09:00:00Z.', 'invalid_send_at');
  if (sendAt.getTime() < Date.now() - 60_000)
    throw new ValidationError('send_at is in the past; choose a later time, or send now.', 'invalid_send_at');
  if (sendAt.getTime() > Date.now() + MAX_SCHEDULE_DAYS * 86_400_000)
    throw new ValidationError('send_at is more than a year away.', 'invalid_send_at');
}

async function sendablePost(db: Kysely<Database>, postId: string) {
  if (!isId(postId)) throw new ValidationError('post_id must be the id of a post.', 'invalid_post');
  const post = await db.selectFrom('posts').select(['id', 'title', 'status']).where('id', '=', postId).executeTakeFirst();
  if (!post) throw new NotFoundError('No such post.', 'post_not_found');
  if (post.status !== 'published')
    throw new ConflictError(
      'Publish the post before emailing it (an email-only post is published without a web page).',
      'post_not_published',
    );
  return post;
}

export async function createSend(db: Kysely<Database>, input: CreateSendInput) {
  await sendablePost(db, input.postId);
  const segment = await resolveSegment(db, parseSegmentInput(input.segment));
  const undo = checkUndo(input.undoSeconds);
  checkSendAt(input.sendAt);
  const test = parseSubjectTest({ subjects: input.subjects, test: input.test });
  if (input.clipCheck && !input.draft) await checkNotClipped(db, input.clipCheck.siteUrl, input.postId, input.clipCheck.confirmed);
  if (test && !(await getSiteSettings(db)).trackPerMember)
    throw new ValidationError(
      "A subject test is judged on each member's clicks: turn on per-member tracking in the settings first.",
      'tracking_off',
    );
  return db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('sends')
      .values({
        post_id: input.postId,
        segment: JSON.stringify(segment),
        undo_seconds: undo,
        created_by: input.staffId ?? null,
        ...(test ? { subjects: test.subjects, test_sample: test.sample, test_wait_seconds: test.waitSeconds } : {}),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (!input.draft) await scheduleLocked(trx, row.id, input.sendAt, undo);
    return getSend(trx, row.id);
  });
}

/** A draft's segment, changed before it is scheduled. */
export async function updateDraft(db: Kysely<Database>, sendId: string, segmentInput: unknown) {
  const segment = await resolveSegment(db, parseSegmentInput(segmentInput));
  await db.transaction().execute(async (trx) => {
    const send = await lockSend(trx, sendId);
    if (send.status !== 'draft') throw new ConflictError('Only a draft can change its segment; undo the send first.', 'not_draft');
    await trx
      .updateTable('sends')
      .set({ segment: JSON.stringify(segment) })
      .where('id', '=', sendId)
      .execute();
  });
  return getSend(db, sendId);
}

async function lockSend(db: Kysely<Database>, sendId: string) {
  if (!isId(sendId)) throw new NotFoundError('No such send.', 'send_not_found');
  const send = await db.selectFrom('sends').selectAll().where('id', '=', sendId).forUpdate().executeTakeFirst();
  if (!send) throw new NotFoundError('No such send.', 'send_not_found');
  return send;
}

const PAST: Record<SendCommand, string> = {
  schedule: 'scheduled',
  undo: 'undone',
  cancel: 'cancelled',
  pause: 'paused',
  resume: 'resumed',
  retry: 'retried',
};

function refuse(command: SendCommand, status: SendStatus): never {
  throw new ConflictError(`A ${status} send cannot be ${PAST[command]}.`, 'invalid_transition');
}

async function scheduleLocked(db: Kysely<Database>, sendId: string, sendAt: Date | undefined, undoSeconds: number): Promise<void> {
  const at = sendAt ?? new Date(Date.now() + undoSeconds * 1000);
  await db
    .updateTable('sends')
    .set({ status: 'scheduled', send_at: at, scheduled_at: new Date(), undo_seconds: undoSeconds, error: null })
    .where('id', '=', sendId)
    .execute();
  await enqueuePrepare(db, sendId, at);
}

/** Draft → scheduled: at `sendAt`, or after the undo window. */
export async function scheduleSend(
  db: Kysely<Database>,
  sendId: string,
  options: { sendAt?: Date | undefined; undoSeconds?: number | undefined } = {},
) {
  checkSendAt(options.sendAt);
  // Read back inside the transaction: the worker may take the send up as soon as it commits.
  return db.transaction().execute(async (trx) => {
    const send = await lockSend(trx, sendId);
    if (!commandTarget('schedule', send.status)) refuse('schedule', send.status);
    await sendablePost(trx, send.post_id);
    await scheduleLocked(trx, sendId, options.sendAt, checkUndo(options.undoSeconds ?? send.undo_seconds));
    return getSend(trx, sendId);
  });
}

/** Any command but schedule. Cancel stops every batch not yet posted. */
export async function commandSend(db: Kysely<Database>, sendId: string, command: Exclude<SendCommand, 'schedule'>) {
  return db.transaction().execute(async (trx) => {
    const send = await lockSend(trx, sendId);
    const target = commandTarget(command, send.status);
    if (!target) refuse(command, send.status);
    const now = dbNow();
    switch (command) {
      case 'undo':
        await trx.updateTable('sends').set({ status: 'draft', send_at: null, scheduled_at: null }).where('id', '=', sendId).execute();
        await removePrepare(trx, sendId);
        break;
      case 'cancel':
        await trx.updateTable('sends').set({ status: 'cancelled', finished_at: now }).where('id', '=', sendId).execute();
        // Batches being posted right now finish (the provider has them); the rest never go.
        await trx
          .updateTable('send_batches')
          .set({ status: 'cancelled' })
          .where('send_id', '=', sendId)
          .where('status', 'in', ['pending', 'failed', 'held'])
          .execute();
        await removePrepare(trx, sendId);
        await removeWinnerJob(trx, sendId);
        break;
      case 'pause':
        await trx.updateTable('sends').set({ status: 'paused' }).where('id', '=', sendId).execute();
        break;
      case 'resume':
        await trx.updateTable('sends').set({ status: 'sending' }).where('id', '=', sendId).execute();
        await enqueueLanes(trx, sendId, send.batches);
        break;
      case 'retry':
        await trx
          .updateTable('send_batches')
          .set({ status: 'pending', attempts: 0, next_attempt_at: now, error: null })
          .where('send_id', '=', sendId)
          .where('status', '=', 'failed')
          .execute();
        await trx.updateTable('sends').set({ status: 'sending', error: null, finished_at: null }).where('id', '=', sendId).execute();
        await enqueueLanes(trx, sendId, send.batches);
        break;
    }
    // The send as this command left it (the worker may move it on as soon as this commits).
    return getSend(trx, sendId);
  });
}

/**
 * Staff pick a subject test's winner before the wait is over. Answered with the send as the pick
 * left it, read inside its transaction: the lanes it starts may post the rest as soon as it commits.
 */
export async function pickWinnerByHand(
  db: Kysely<Database>,
  sendId: string,
  subject: number,
  staff: { id: string; name?: string | null; email: string },
) {
  return db.transaction().execute(async (trx) => {
    await settleWinnerByHand(trx, sendId, subject, staff);
    return getSend(trx, sendId);
  });
}

/** A send with its post's title and the figures summed from its batches, ready for `sendView`. */
function selectSends(db: Kysely<Database>) {
  return (
    db
      .selectFrom('sends as s')
      .innerJoin('posts as p', 'p.id', 's.post_id')
      .select([
        's.id',
        's.post_id',
        's.status',
        's.segment',
        's.send_at',
        's.undo_seconds',
        's.recipients',
        's.batches',
        's.skipped',
        's.delivered',
        's.bounced',
        's.complained',
        's.delayed',
        's.provider_failed',
        's.error',
        's.created_at',
        's.scheduled_at',
        's.prepared_at',
        's.finished_at',
        's.subjects',
        's.test_sample',
        's.test_wait_seconds',
        's.test_ends_at',
        's.winner',
        's.winner_rule',
        's.winner_at',
        'p.title as post_title',
        'p.slug as post_slug',
      ])
      // Posted and rejected are summed from the batches (100 deliveries each): a few thousand
      // rows of the primary key at a million recipients.
      .select((eb) => [
        eb
          .selectFrom('send_batches as b')
          .select(sql<number>`coalesce(sum(b.posted_count), 0)::int`.as('n'))
          .whereRef('b.send_id', '=', 's.id')
          .as('posted'),
        eb
          .selectFrom('send_batches as b')
          .select(sql<number>`coalesce(sum(b.rejected_count), 0)::int`.as('n'))
          .whereRef('b.send_id', '=', 's.id')
          .as('rejected'),
      ])
  );
}

export type SendRow = Awaited<ReturnType<typeof loadSend>>;

async function loadSend(db: Kysely<Database>, sendId: string) {
  if (!isId(sendId)) throw new NotFoundError('No such send.', 'send_not_found');
  const row = await selectSends(db).where('s.id', '=', sendId).executeTakeFirst();
  if (!row) throw new NotFoundError('No such send.', 'send_not_found');
  return row;
}

/** A send's figures as staff see them (a pure derivation of its row); the API's JSON is src/web/api/send.ts. */
export function sendView(row: SendRow, now = Date.now()) {
  const segment = row.segment as unknown as Segment;
  const undoUntil = row.status === 'scheduled' && row.send_at ? row.send_at.toISOString() : null;
  return {
    id: row.id,
    status: row.status,
    post_id: row.post_id,
    post_title: row.post_title,
    segment: segmentView(segment),
    segment_summary: describeSegment(segment),
    recipients: row.recipients,
    posted: Number(row.posted ?? 0),
    delivered: row.delivered,
    bounced: row.bounced,
    complained: row.complained,
    delayed: row.delayed,
    failed: Number(row.rejected ?? 0) + row.provider_failed,
    skipped: row.skipped,
    remaining: Math.max(0, row.recipients - Number(row.posted ?? 0) - Number(row.rejected ?? 0) - row.skipped),
    progress:
      row.recipients === 0
        ? row.status === 'sent'
          ? 1
          : 0
        : Math.min(1, (Number(row.posted ?? 0) + Number(row.rejected ?? 0) + row.skipped) / row.recipients),
    send_at: row.send_at?.toISOString() ?? null,
    /** While scheduled: until when Undo returns it to a draft before anything is prepared. */
    undo_until: undoUntil,
    undo_seconds: row.undo_seconds,
    seconds_to_send: row.send_at && row.status === 'scheduled' ? Math.max(0, Math.ceil((row.send_at.getTime() - now) / 1000)) : null,
    error: row.error,
    created_at: row.created_at.toISOString(),
    prepared_at: row.prepared_at?.toISOString() ?? null,
    finished_at: row.finished_at?.toISOString() ?? null,
    subject_test: row.subjects
      ? {
          subjects: row.subjects,
          sample: row.test_sample ?? 0,
          wait: formatDuration(row.test_wait_seconds ?? 0),
          /** When the winner is judged (set at preparation). */
          ends_at: row.test_ends_at?.toISOString() ?? null,
          winner: row.winner,
          winner_rule: row.winner_rule,
          decided_at: row.winner_at?.toISOString() ?? null,
        }
      : null,
  };
}

export type SendView = ReturnType<typeof sendView>;

export async function getSend(db: Kysely<Database>, sendId: string): Promise<SendView> {
  return sendView(await loadSend(db, sendId));
}

/** The figures of a draft or scheduled send before it is prepared: who it would reach now. */
export async function estimateRecipients(db: Kysely<Database>, sendId: string): Promise<number> {
  const row = await loadSend(db, sendId);
  return countRecipients(db, row.segment as unknown as Segment, row.post_id, row.id);
}

/** Batches by status and the reasons of those that failed: the final report. */
export async function sendReport(db: Kysely<Database>, sendId: string) {
  const send = await getSend(db, sendId);
  const [byStatus, failures] = await Promise.all([
    db
      .selectFrom('send_batches')
      .select(['status', sql<string>`count(*)`.as('batches'), sql<string>`sum(size)`.as('deliveries')])
      .where('send_id', '=', sendId)
      .groupBy('status')
      .execute(),
    db
      .selectFrom('send_batches')
      .select(['batch', 'attempts', 'error', 'status'])
      .where('send_id', '=', sendId)
      .where('error', 'is not', null)
      .orderBy('batch')
      .limit(20)
      .execute(),
  ]);
  return {
    send,
    batches: Object.fromEntries(byStatus.map((b) => [b.status, { batches: Number(b.batches), deliveries: Number(b.deliveries) }])),
    problems: failures,
  };
}

/**
 * Newest first, keyset on id. One statement for the whole page: the batch sums are correlated
 * subqueries on the send_batches primary key, so a page of 200 sends is one round trip (it was
 * one query per send, 201 for a full page).
 */
export async function listSends(
  db: Kysely<Database>,
  options: { limit?: number | undefined; after?: string | undefined; postId?: string | undefined } = {},
) {
  const limit = Math.min(Math.max(1, Math.trunc(options.limit ?? 50) || 50), 200);
  const cursor = decodeKeyset(options.after, ['id']);
  if (options.postId !== undefined && !isId(options.postId)) throw new ValidationError('post must be a post id.', 'invalid_post');
  const rows = await selectSends(db)
    .$if(cursor !== undefined, (q) => q.where('s.id', '<', String(cursor![0])))
    .$if(options.postId !== undefined, (q) => q.where('s.post_id', '=', options.postId!))
    .orderBy('s.id', 'desc')
    .limit(limit + 1)
    .execute();
  const now = Date.now();
  const { page, next } = keysetPage(rows, limit, (last) => [last.id]);
  return { sends: page.map((row) => sendView(row, now)), next };
}
