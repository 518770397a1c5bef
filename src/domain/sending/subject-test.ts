import { sql, type Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.ts';
import { isId } from '../../lib/ids.ts';
import { dbNow } from '../../lib/sql.ts';
import { enqueueLanes, removeWinnerJob } from './jobs.ts';

/**
 * Subject tests: a send with 2–4 subject lines. At preparation a sample of the segment (a share,
 * drawn by a hash of send and member id: random, yet the same on every run) gets the subjects
 * split evenly; the rest's batches are made at the same moment but held. When the wait is over
 * (the `pick_subject_winner` job, at test_ends_at) or when staff pick by hand, the winner is
 * written once and the held batches are released; the rest then gets the winner's subject.
 *
 * The winner is judged on people: unique human clicks (machine opens and scanner clicks, as
 * tracking/agents.ts classifies them, never count), and on a tie unique human opens.
 */
export const MIN_SUBJECTS = 2;
export const MAX_SUBJECTS = 4;
export const MAX_SUBJECT_LENGTH = 200;
export const MAX_WAIT_SECONDS = 7 * 86_400;
export const DEFAULT_TEST = { sample: 0.2, wait: 'PT4H' } as const;

export interface SubjectTestInput {
  subjects: unknown;
  test?: { sample?: unknown; wait?: unknown } | undefined;
}

export interface SubjectTest {
  subjects: string[];
  sample: number;
  waitSeconds: number;
}

/**
 * An ISO-8601 duration of days, hours, minutes and seconds (`P1D`, `PT4H`, `PT90S`, `P1DT12H`),
 * in seconds; null when it is not one. Years, months and weeks are refused: their length varies.
 */
export function parseDuration(value: string): number | null {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(value.trim());
  if (!m || value.trim() === 'P' || value.trim().endsWith('T')) return null;
  const [d, h, min, s] = [m[1], m[2], m[3], m[4]].map((x) => Number(x ?? 0)) as [number, number, number, number];
  return d * 86_400 + h * 3600 + min * 60 + s;
}

/** The duration as ISO-8601 again (the API answers with what it was given, normalised). */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
  return `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}` || 'PT0S';
}

/** The test as asked for, checked; null when the send has no subject lines of its own. */
export function parseSubjectTest(input: SubjectTestInput): SubjectTest | null {
  if (input.subjects === undefined || input.subjects === null) {
    if (input.test !== undefined && input.test !== null)
      throw new ValidationError('A test needs "subjects": 2 to 4 subject lines.', 'invalid_subjects');
    return null;
  }
  if (!Array.isArray(input.subjects) || input.subjects.some((s) => typeof s !== 'string'))
    throw new ValidationError('subjects must be a list of 2 to 4 subject lines.', 'invalid_subjects');
  const subjects = (input.subjects as string[]).map((s) => s.replace(/\s+/g, ' ').trim());
  if (subjects.length < MIN_SUBJECTS || subjects.length > MAX_SUBJECTS)
    throw new ValidationError(`A subject test has 2 to 4 subject lines (${subjects.length} given).`, 'invalid_subjects');
  if (subjects.some((s) => s === '' || s.length > MAX_SUBJECT_LENGTH))
    throw new ValidationError(`Each subject line has 1 to ${MAX_SUBJECT_LENGTH} characters.`, 'invalid_subjects');
  if (new Set(subjects).size !== subjects.length) throw new ValidationError('The subject lines must differ.', 'invalid_subjects');
  const sample = input.test?.sample ?? DEFAULT_TEST.sample;
  if (typeof sample !== 'number' || !Number.isFinite(sample) || sample <= 0 || sample >= 1)
    throw new ValidationError('test.sample is the share of the segment in the test: a number between 0 and 1, like 0.2.', 'invalid_sample');
  const wait = input.test?.wait ?? DEFAULT_TEST.wait;
  const waitSeconds = typeof wait === 'string' ? parseDuration(wait) : null;
  if (waitSeconds === null || waitSeconds <= 0)
    throw new ValidationError('test.wait is an ISO-8601 duration, like PT4H (4 hours) or PT30M.', 'invalid_wait');
  if (waitSeconds > MAX_WAIT_SECONDS) throw new ValidationError('test.wait is at most 7 days (P7D).', 'invalid_wait');
  return { subjects, sample, waitSeconds };
}

export interface VariantFigures {
  subject: number;
  recipients: number;
  delivered: number;
  humanOpens: number;
  machineOpens: number;
  uniqueHumanClicks: number;
}

/**
 * The winner, a pure function of the sample's figures: most unique human clicks; on a tie, most
 * unique human opens; on a tie of both, the first subject. The rule says why, in words staff read.
 */
export function judgeWinner(variants: readonly VariantFigures[]): { winner: number; rule: string } {
  const ranked = [...variants].sort(
    (a, b) => b.uniqueHumanClicks - a.uniqueHumanClicks || b.humanOpens - a.humanOpens || a.subject - b.subject,
  );
  const [first, second] = ranked;
  if (!first) return { winner: 0, rule: 'no sample: first subject' };
  if (!second) return { winner: first.subject, rule: 'only one subject in the sample' };
  if (first.uniqueHumanClicks !== second.uniqueHumanClicks)
    return { winner: first.subject, rule: `human clicks ${first.uniqueHumanClicks} vs ${second.uniqueHumanClicks}` };
  if (first.humanOpens !== second.humanOpens)
    return {
      winner: first.subject,
      rule: `tie on clicks (${first.uniqueHumanClicks}), human opens ${first.humanOpens} vs ${second.humanOpens}`,
    };
  return { winner: first.subject, rule: `tie on clicks (${first.uniqueHumanClicks}) and human opens (${first.humanOpens}): first subject` };
}

/**
 * Each subject's figures in the sample, and the rest's (subject null). Events are folded per
 * member first (one row per member who did anything), then joined to the send's deliveries: the
 * sample is a share of one send, read through the (send_id, kind) index of engagement_events.
 */
export async function subjectFigures(db: Kysely<Database>, sendId: string) {
  const rows = await sql<{
    subject: number | null;
    recipients: number;
    delivered: number;
    human_opens: number;
    machine_opens: number;
    unique_human_clicks: number;
  }>`
    with ev as (
      select member_id,
             bool_or(kind = 'open' and not machine) as human_open,
             bool_or(kind = 'open' and machine) as machine_open,
             bool_or(kind = 'click' and not machine) as human_click
        from engagement_events
       where send_id = ${sendId} and kind in ('open', 'click') and member_id is not null
       group by member_id
    )
    select d.subject::int as subject,
           count(*)::int as recipients,
           count(d.delivered_at)::int as delivered,
           count(*) filter (where ev.human_open)::int as human_opens,
           count(*) filter (where ev.machine_open)::int as machine_opens,
           count(*) filter (where ev.human_click)::int as unique_human_clicks
      from deliveries d left join ev on ev.member_id = d.member_id
     where d.send_id = ${sendId}
     group by d.subject
     order by d.subject nulls last
  `.execute(db);
  return rows.rows;
}

async function lockTestSend(db: Kysely<Database>, sendId: string) {
  if (!isId(sendId)) throw new NotFoundError('No such send.', 'send_not_found');
  const send = await db
    .selectFrom('sends')
    .select(['id', 'status', 'subjects', 'winner', 'batches'])
    .where('id', '=', sendId)
    .forUpdate()
    .executeTakeFirst();
  if (!send) throw new NotFoundError('No such send.', 'send_not_found');
  return send;
}

/**
 * The winner written once, and the rest's held batches released. Under the send's row lock, so
 * the winner job and a staff pick never both decide. Lanes start only when the send is sending;
 * a paused send's rest goes when it is resumed, a failed one's when it is retried.
 */
async function settleWinner(
  trx: Kysely<Database>,
  send: { id: string; status: string; batches: number },
  winner: number,
  rule: string,
  staffId: string | null,
): Promise<void> {
  await trx
    .updateTable('sends')
    .set({ winner, winner_rule: rule, winner_at: dbNow(), winner_by: staffId })
    .where('id', '=', send.id)
    .where('winner', 'is', null)
    .execute();
  await trx
    .updateTable('send_batches')
    .set({ status: 'pending', next_attempt_at: dbNow() })
    .where('send_id', '=', send.id)
    .where('status', '=', 'held')
    .execute();
  if (send.status === 'sending') await enqueueLanes(trx, send.id, send.batches);
}

/** The winner job: judge the sample and release the rest. Nothing happens when a winner exists or the send was cancelled. */
export async function pickWinnerByRule(db: Kysely<Database>, sendId: string): Promise<{ winner: number; rule: string } | null> {
  return db.transaction().execute(async (trx) => {
    const send = await lockTestSend(trx, sendId);
    if (!send.subjects || send.winner !== null) return null;
    if (!['sending', 'paused', 'failed'].includes(send.status)) return null;
    const figures = (await subjectFigures(trx, sendId))
      .filter((f) => f.subject !== null)
      .map((f) => ({
        subject: f.subject!,
        recipients: f.recipients,
        delivered: f.delivered,
        humanOpens: f.human_opens,
        machineOpens: f.machine_opens,
        uniqueHumanClicks: f.unique_human_clicks,
      }));
    const judged = judgeWinner(figures);
    await settleWinner(trx, send, judged.winner, judged.rule, null);
    return judged;
  });
}

/**
 * Staff pick the winner by hand, before the wait is over, in the caller's transaction (it locks
 * the send): `pickWinnerByHand` in sends.ts, which answers with the send as the pick left it.
 */
export async function settleWinnerByHand(
  trx: Kysely<Database>,
  sendId: string,
  subject: number,
  staff: { id: string; name?: string | null; email: string },
): Promise<void> {
  const send = await lockTestSend(trx, sendId);
  if (!send.subjects) throw new ConflictError('This send has no subject test.', 'no_subject_test');
  if (!Number.isInteger(subject) || subject < 0 || subject >= send.subjects.length)
    throw new ValidationError(`subject_index is 0 to ${send.subjects.length - 1}.`, 'invalid_subject_index');
  if (send.winner !== null) throw new ConflictError('The winner is already chosen.', 'winner_chosen');
  if (!['sending', 'paused', 'failed'].includes(send.status))
    throw new ConflictError(`A ${send.status} send's subject test cannot be decided.`, 'invalid_transition');
  await settleWinner(trx, send, subject, `picked by ${staff.name?.trim() || staff.email}`, staff.id);
  await removeWinnerJob(trx, sendId);
}

/**
 * A subject test's report: each subject's figures in the sample, the rest's, and the rule that
 * picked the winner. Read live from the deliveries and events (not the hourly rollup): the
 * figures are the ones the verdict was, or will be, made on. Null for a send without a test.
 */
export async function subjectTestReport(db: Kysely<Database>, sendId: string) {
  const send = await db
    .selectFrom('sends')
    .select(['subjects', 'test_sample', 'test_wait_seconds', 'test_ends_at', 'winner', 'winner_rule', 'winner_at'])
    .where('id', '=', sendId)
    .executeTakeFirst();
  if (!send?.subjects) return null;
  const figures = await subjectFigures(db, sendId);
  const empty = { recipients: 0, delivered: 0, human_opens: 0, machine_opens: 0, unique_human_clicks: 0 };
  const of = (f: (typeof figures)[number] | undefined) =>
    f
      ? {
          recipients: f.recipients,
          delivered: f.delivered,
          human_opens: f.human_opens,
          machine_opens: f.machine_opens,
          unique_human_clicks: f.unique_human_clicks,
        }
      : empty;
  return {
    subjects: send.subjects,
    sample: send.test_sample ?? 0,
    wait: formatDuration(send.test_wait_seconds ?? 0),
    ends_at: send.test_ends_at?.toISOString() ?? null,
    winner: send.winner,
    winner_rule: send.winner_rule,
    decided_at: send.winner_at?.toISOString() ?? null,
    variants: send.subjects.map((subject, index) => ({
      index,
      subject,
      winner: send.winner === index,
      ...of(figures.find((f) => f.subject === index)),
    })),
    /** The rest of the segment: the winner's subject once it is chosen. */
    rest: of(figures.find((f) => f.subject === null)),
  };
}

export type SubjectTestReport = NonNullable<Awaited<ReturnType<typeof subjectTestReport>>>;
