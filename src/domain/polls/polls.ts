import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { decodeKeyset, keysetPage } from '../../lib/keyset.ts';
import { canRead, type Viewer } from '../content/access.ts';
import { splitAtCut } from '../content/markdown.ts';

/**
 * Polls: a question with 2 to 6 answers, placed in a post's Markdown as a line `{{poll:<id>}}`.
 * Staff create them (admin /admin/polls, the post editor, the API), open or closed, with an
 * optional closing time. Answers are votes.ts; the email links tokens.ts.
 */
export interface Poll {
  id: string;
  question: string;
  answers: string[];
  status: 'open' | 'closed';
  closesAt: Date | null;
  createdAt: Date;
}

export interface PollInput {
  question: string;
  answers: string[];
  status?: 'open' | 'closed' | undefined;
  closesAt?: Date | null | undefined;
}

export type PollPatch = Partial<PollInput>;

/** The block's syntax in Markdown, on a line of its own. */
export const POLL_BLOCK = /\{\{poll:(\d{1,18})\}\}/g;

const COLUMNS = ['id', 'question', 'answers', 'status', 'closes_at', 'created_at'] as const;

function toPoll(r: {
  id: string;
  question: string;
  answers: string[];
  status: 'open' | 'closed';
  closes_at: Date | null;
  created_at: Date;
}): Poll {
  return { id: r.id, question: r.question, answers: r.answers, status: r.status, closesAt: r.closes_at, createdAt: r.created_at };
}

/** Whether answers are taken now: open, and not past its closing time. */
export function isOpen(poll: Pick<Poll, 'status' | 'closesAt'>, now = new Date()): boolean {
  return poll.status === 'open' && (poll.closesAt === null || poll.closesAt.getTime() > now.getTime());
}

const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();

function checkQuestion(question: string): string {
  const q = clean(question);
  if (q === '' || q.length > 300) throw new ValidationError('A poll needs a question of 1 to 300 characters.', 'invalid_poll');
  return q;
}

function checkAnswers(answers: string[]): string[] {
  const a = answers.map(clean).filter(Boolean);
  if (a.length < 2 || a.length > 6) throw new ValidationError('A poll has 2 to 6 answers.', 'invalid_poll');
  if (a.some((x) => x.length > 120)) throw new ValidationError('An answer has at most 120 characters.', 'invalid_poll');
  if (new Set(a.map((x) => x.toLowerCase())).size !== a.length) throw new ValidationError('Two answers are the same.', 'invalid_poll');
  return a;
}

function checkCloses(closesAt: Date | null | undefined): Date | null | undefined {
  if (closesAt && Number.isNaN(closesAt.getTime())) throw new ValidationError('closes_at must be a date and time.', 'invalid_poll');
  return closesAt;
}

export async function createPoll(db: Kysely<Database>, input: PollInput, staffId: string | null): Promise<Poll> {
  const row = await db
    .insertInto('polls')
    .values({
      question: checkQuestion(input.question),
      answers: checkAnswers(input.answers),
      status: input.status ?? 'open',
      closes_at: checkCloses(input.closesAt) ?? null,
      created_by: staffId,
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
  return toPoll(row);
}

export async function getPoll(db: Kysely<Database>, id: string): Promise<Poll> {
  const row = isId(id) ? await db.selectFrom('polls').select(COLUMNS).where('id', '=', id).executeTakeFirst() : undefined;
  if (!row) throw new NotFoundError('No such poll.', 'poll_not_found');
  return toPoll(row);
}

/** Several polls by id (a post's blocks), unknown ids left out. */
export async function pollsById(db: Kysely<Database>, ids: string[]): Promise<Map<string, Poll>> {
  const wanted = [...new Set(ids.filter(isId))];
  if (wanted.length === 0) return new Map();
  const rows = await db.selectFrom('polls').select(COLUMNS).where('id', 'in', wanted).execute();
  return new Map(rows.map((r) => [r.id, toPoll(r)]));
}

/**
 * Changes a poll. Answers may be reworded but not added or removed once anyone has answered
 * (a vote is the answer's position); closing keeps every vote.
 */
export async function updatePoll(db: Kysely<Database>, id: string, patch: PollPatch): Promise<Poll> {
  return db.transaction().execute(async (trx) => {
    const current = await trx
      .selectFrom('polls')
      .select(COLUMNS)
      .where('id', '=', isId(id) ? id : '0')
      .forUpdate()
      .executeTakeFirst();
    if (!current) throw new NotFoundError('No such poll.', 'poll_not_found');
    const set: Record<string, unknown> = {};
    if (patch.question !== undefined) set.question = checkQuestion(patch.question);
    if (patch.answers !== undefined) {
      const answers = checkAnswers(patch.answers);
      if (answers.length !== current.answers.length) {
        const voted = await trx.selectFrom('poll_votes').select('poll_id').where('poll_id', '=', current.id).limit(1).executeTakeFirst();
        if (voted) throw new ValidationError('Members have answered: answers can be reworded, not added or removed.', 'poll_answered');
      }
      set.answers = answers;
    }
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.closesAt !== undefined) set.closes_at = checkCloses(patch.closesAt);
    if (Object.keys(set).length === 0) return toPoll(current);
    const row = await trx
      .updateTable('polls')
      .set({ ...set, updated_at: new Date() })
      .where('id', '=', current.id)
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toPoll(row);
  });
}

/** Newest first, by keyset on id. */
export async function listPolls(db: Kysely<Database>, page: { limit?: number | undefined; after?: string | undefined } = {}) {
  const limit = Math.min(Math.max(1, Math.trunc(page.limit ?? 50) || 50), 200);
  const cursor = decodeKeyset(page.after, ['id']);
  const rows = await db
    .selectFrom('polls')
    .select(COLUMNS)
    .$if(cursor !== undefined, (q) => q.where('id', '<', String(cursor![0])))
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const { page: pageRows, next } = keysetPage(rows, limit, (last) => [last.id]);
  return { polls: pageRows.map(toPoll), next };
}

/** The poll ids of some Markdown, in order, each once. */
export function pollIdsIn(markdown: string): string[] {
  return [...new Set([...markdown.matchAll(POLL_BLOCK)].map((m) => m[1]!))];
}

/**
 * Whether a viewer may see a poll (its question, answers and results): a poll follows the gating
 * of the posts it stands in. Placed above the cut of a post, or in a public post, anyone may; placed
 * only in gated parts, only a reader who may read one of those posts. A poll in no post is public.
 */
export async function canSeePoll(db: Kysely<Database>, pollId: string, viewer: Viewer): Promise<boolean> {
  if (viewer.kind === 'staff') return true;
  const block = `{{poll:${pollId}}}`;
  const posts = await db
    .selectFrom('posts')
    .select(['markdown', 'visibility', 'tier_ids'])
    .where(sql<boolean>`strpos(markdown, ${block}) > 0`)
    .execute();
  if (posts.length === 0) return true;
  return posts.some((p) => {
    const gate = { visibility: p.visibility, tierIds: p.tier_ids };
    if (canRead(viewer, gate)) return true;
    const parts = splitAtCut(p.markdown);
    return parts.hasCut && parts.preview.includes(block);
  });
}

/** The posts a poll stands in (for its admin page and its answers' events). */
export async function postsWithPoll(db: Kysely<Database>, pollId: string) {
  return db
    .selectFrom('posts')
    .select(['id', 'title', 'slug'])
    .where(sql<boolean>`strpos(markdown, ${`{{poll:${pollId}}}`}) > 0`)
    .orderBy('id', 'desc')
    .limit(20)
    .execute();
}
