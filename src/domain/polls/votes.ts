import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { sign, verify } from '../../lib/tokens.ts';
import { agentClass, isMachine, type AgentClass } from '../tracking/agents.ts';
import { getPoll, isOpen, type Poll } from './polls.ts';

/**
 * Answers. One row per member and poll (poll_votes' primary key): answering again with the same
 * answer changes nothing, with another changes the row, so a member is counted once whatever they
 * click. An email link names poll, member, answer and send, HMAC-signed (lib/tokens.ts, compared
 * in constant time) so nobody can answer for someone else; the tracking rules decide whether a
 * click was a person or a link scanner, and a scanner's click records nothing. A recorded (or
 * changed) answer is an engagement event of kind 'poll' (its link column holds the answer).
 */
export interface PollTokenRef {
  pollId: string;
  memberId: string;
  answer: number;
  /** The send whose email carried the link; null outside a send. */
  sendId: string | null;
}

const PURPOSE = 'poll-answer';

export function pollToken(secret: string, ref: PollTokenRef): string {
  return sign(secret, PURPOSE, `${ref.pollId}.${ref.memberId}.${ref.answer}.${ref.sendId ?? '0'}`);
}

export function readPollToken(secret: string, token: string): PollTokenRef | null {
  if (token.length > 200) return null;
  const parts = verify(secret, PURPOSE, token)?.split('.');
  if (!parts || parts.length !== 4 || !parts.every((p) => isId(p) || p === '0')) return null;
  const answer = Number(parts[2]);
  if (!isId(parts[0]) || !isId(parts[1]) || !Number.isInteger(answer) || answer < 0 || answer > 5) return null;
  return { pollId: parts[0]!, memberId: parts[1]!, answer, sendId: parts[3] === '0' ? null : parts[3]! };
}

export type VoteOutcome = 'recorded' | 'changed' | 'unchanged' | 'closed' | 'machine';

export interface VoteInput {
  pollId: string;
  memberId: string;
  answer: number;
  channel: 'email' | 'web';
  sendId?: string | null | undefined;
  /** The post it was answered in (the event's post). */
  postId?: string | null | undefined;
  agent?: AgentClass | undefined;
}

/** Records or changes one member's answer; a closed poll records nothing. */
export async function recordVote(db: Kysely<Database>, input: VoteInput): Promise<{ outcome: VoteOutcome; poll: Poll }> {
  const poll = await getPoll(db, input.pollId);
  if (!Number.isInteger(input.answer) || input.answer < 0 || input.answer >= poll.answers.length)
    throw new ValidationError('Choose one of the answers.', 'invalid_answer');
  if (!isOpen(poll)) return { outcome: 'closed', poll };
  const outcome = await db.transaction().execute(async (trx) => {
    const member = await trx.selectFrom('members').select('id').where('id', '=', input.memberId).executeTakeFirst();
    if (!member) throw new NotFoundError('No such member.', 'member_not_found');
    // xmax = 0 on the returned row: inserted; otherwise the conflict's update ran (the answer
    // changed). No row: the same answer again, nothing to do.
    const row = await sql<{ inserted: boolean }>`
      insert into poll_votes (poll_id, member_id, answer, channel, send_id)
      values (${poll.id}, ${input.memberId}, ${input.answer}, ${input.channel}, ${input.sendId ?? null})
      on conflict (poll_id, member_id) do update
        set answer = excluded.answer, channel = excluded.channel, send_id = coalesce(excluded.send_id, poll_votes.send_id),
            changes = poll_votes.changes + 1, updated_at = now()
        where poll_votes.answer <> excluded.answer
      returning (xmax = 0) as inserted`.execute(trx);
    const result = row.rows[0];
    if (!result) return 'unchanged' as const;
    await trx
      .insertInto('engagement_events')
      .values({
        kind: 'poll',
        member_id: input.memberId,
        send_id: input.sendId ?? null,
        post_id: input.postId ?? null,
        link: input.answer,
        machine: false,
        agent: input.agent ?? 'browser',
      })
      .execute();
    return result.inserted ? ('recorded' as const) : ('changed' as const);
  });
  return { outcome, poll };
}

/**
 * An answer from an email link: the token checked, then the tracking rules (a HEAD, a bot's or an
 * unknown agent, or a click seconds after the email was posted is a scanner's) — a scanner's click
 * records nothing and answers 'machine', so the page offers a button to confirm by hand.
 * Null: a token that does not verify.
 */
export async function answerFromEmail(
  db: Kysely<Database>,
  secret: string,
  token: string,
  request: { method: string; userAgent: string | undefined; confirmed?: boolean },
): Promise<{ outcome: VoteOutcome; poll: Poll; ref: PollTokenRef } | null> {
  const ref = readPollToken(secret, token);
  if (!ref) return null;
  const poll = await getPoll(db, ref.pollId).catch(() => undefined);
  if (!poll || ref.answer >= poll.answers.length) return null;
  if (!isOpen(poll)) return { outcome: 'closed', poll, ref };
  const agent = agentClass(request.userAgent);
  let seconds: number | null = null;
  let postId: string | null = null;
  if (ref.sendId) {
    const row = await db
      .selectFrom('deliveries as d')
      .innerJoin('sends as s', 's.id', 'd.send_id')
      .select(['s.post_id', sql<number | null>`extract(epoch from now() - coalesce(d.delivered_at, d.posted_at))::float8`.as('seconds')])
      .where('d.send_id', '=', ref.sendId)
      .where('d.member_id', '=', ref.memberId)
      .executeTakeFirst();
    seconds = row?.seconds ?? null;
    postId = row?.post_id ?? null;
  }
  // A confirmation is a POST from the page (a person pressing a button); a scanner does not post forms.
  const machine = !request.confirmed && isMachine({ kind: 'click', method: request.method, agent, secondsSincePosted: seconds });
  if (machine) return { outcome: 'machine', poll, ref };
  try {
    const { outcome } = await recordVote(db, {
      pollId: poll.id,
      memberId: ref.memberId,
      answer: ref.answer,
      channel: 'email',
      sendId: ref.sendId,
      postId,
      agent,
    });
    return { outcome, poll, ref };
  } catch (err) {
    // The member was erased since the email went out: the link names nobody any more.
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

/** A member's current answer, or null. */
export async function memberAnswer(db: Kysely<Database>, pollId: string, memberId: string): Promise<number | null> {
  const row = await db
    .selectFrom('poll_votes')
    .select('answer')
    .where('poll_id', '=', pollId)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
  return row?.answer ?? null;
}

export interface PollResults {
  total: number;
  answers: Array<{ answer: number; text: string; votes: number }>;
  /** Per the member's first-touch platform. */
  byPlatform: Array<{ platform: string; votes: number[] }>;
  /** Per the member's current tier (slug). */
  byTier: Array<{ tier: string; votes: number[] }>;
}

/**
 * Results: one grouped read of the poll's votes (the primary key's leading column) joined to
 * members for platform and tier; a poll's votes are at most its readers, so this stays small.
 */
export async function pollResults(db: Kysely<Database>, poll: Poll, options: { breakdown?: boolean } = {}): Promise<PollResults> {
  const n = poll.answers.length;
  const counts = await db
    .selectFrom('poll_votes')
    .select(['answer', sql<string>`count(*)`.as('n')])
    .where('poll_id', '=', poll.id)
    .groupBy('answer')
    .execute();
  const votes = Array.from({ length: n }, (_v, i) => Number(counts.find((c) => c.answer === i)?.n ?? 0));
  const results: PollResults = {
    total: votes.reduce((a, b) => a + b, 0),
    answers: poll.answers.map((text, answer) => ({ answer, text, votes: votes[answer]! })),
    byPlatform: [],
    byTier: [],
  };
  if (!options.breakdown) return results;
  const rows = await db
    .selectFrom('poll_votes as v')
    .innerJoin('members as m', 'm.id', 'v.member_id')
    .innerJoin('tiers as t', 't.id', 'm.tier_id')
    .select(['v.answer', 'm.source_platform as platform', 't.slug as tier', sql<string>`count(*)`.as('n')])
    .where('v.poll_id', '=', poll.id)
    .groupBy(['v.answer', 'm.source_platform', 't.slug'])
    .execute();
  const group = (key: 'platform' | 'tier') => {
    const map = new Map<string, number[]>();
    for (const r of rows) {
      const k = r[key];
      const row = map.get(k) ?? Array.from({ length: n }, () => 0);
      row[r.answer] = (row[r.answer] ?? 0) + Number(r.n);
      map.set(k, row);
    }
    return [...map.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  };
  results.byPlatform = group('platform').map(([platform, v]) => ({ platform, votes: v }));
  results.byTier = group('tier').map(([tier, v]) => ({ tier, votes: v }));
  return results;
}
