import type { Kysely } from 'kysely';
import type { Database } from '../../../db/types.ts';
import { NotFoundError, ValidationError } from '../../lib/errors.ts';
import type { SiteKeys } from '../../lib/site-keys.ts';
import { senderFor } from '../newsletters/sender.ts';
import { batchMessages, type RenderedSend } from '../sending/payload.ts';
import { getSiteSettings } from '../site/settings.ts';
import { branchTarget, durationSeconds, nextWeekdayTime, type Step } from './definitions.ts';
import { passing, type StepRow } from './engine.ts';

/**
 * "What will Ada get next, and when?": from the member's place in the automation, the steps ahead
 * are walked as the engine would (waits add up, conditions are read now) to the next email, which
 * is rendered for them exactly as it would be posted (sending/payload.ts). Nothing is sent.
 */
export interface NextEmail {
  status: 'active' | 'done' | 'exited' | 'left' | 'not_entered';
  /** The step (1-based) of the next email, when there is one ahead. */
  step: number | null;
  at: Date | null;
  email: { subject: string; html: string; text: string } | null;
  /** What ends the member's way when no email is ahead: 'end', 'exit', 'unsubscribe'. */
  then: string | null;
}

/** previewNext for the member with this address (the admin asks by address). */
export async function previewNextByEmail(db: Kysely<Database>, keys: SiteKeys, automationId: string, email: string): Promise<NextEmail> {
  const member = await db.selectFrom('members').select('id').where('email', '=', email).executeTakeFirst();
  if (!member) throw new ValidationError(`No member has the address ${email.slice(0, 200)}.`);
  return previewNext(db, keys, automationId, member.id);
}

export async function previewNext(db: Kysely<Database>, keys: SiteKeys, automationId: string, memberId: string): Promise<NextEmail> {
  if (!/^\d{1,18}$/.test(automationId) || !/^\d{1,18}$/.test(memberId))
    throw new NotFoundError('There is no such automation or member.', 'not_found');
  const member = await db
    .selectFrom('members')
    .select(['id', 'email', 'name', 'referral_code', 'tier_id', 'language'])
    .where('id', '=', memberId)
    .executeTakeFirst();
  if (!member) throw new NotFoundError('There is no such member.', 'not_found');
  const progress = await db
    .selectFrom('automation_members')
    .select(['step_id', 'status', 'due_at'])
    .where('automation_id', '=', automationId)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
  const none = (status: NextEmail['status'], then: string | null = null): NextEmail => ({
    status,
    step: null,
    at: null,
    email: null,
    then,
  });
  if (!progress) return none('not_entered');
  if (progress.status !== 'active' || !progress.step_id) return none(progress.status);
  const steps = (await db
    .selectFrom('automation_steps')
    .select(['id', 'position', 'definition'])
    .where('automation_id', '=', automationId)
    .where('position', 'is not', null)
    .orderBy('position')
    .execute()) as unknown as StepRow[];
  const zone = (await getSiteSettings(db)).timeZone;
  let at = new Date(Math.max(progress.due_at.getTime(), Date.now()));
  let i = steps.findIndex((s) => s.id === progress.step_id);
  for (let guard = 0; i >= 0 && i < steps.length && guard <= steps.length; guard++) {
    const step: Step = steps[i]!.definition;
    if (step.type === 'email')
      return { status: 'active', step: i + 1, at, email: await render(db, keys, steps[i]!.id, member), then: null };
    if (step.type === 'wait')
      at =
        'duration' in step ? new Date(at.getTime() + (durationSeconds(step.duration) ?? 0) * 1000) : nextWeekdayTime(at, step.until, zone);
    if (step.type === 'unsubscribe') return { ...none('active', 'unsubscribe'), at };
    if (step.type === 'condition') {
      const holds = (await passing(db, steps, i, step.if, [memberId])).length > 0;
      const target = branchTarget(holds ? (step.then ?? 'continue') : (step.else ?? 'exit'), i);
      if (target === 'exit') return { ...none('active', 'exit'), at };
      i = target;
      continue;
    }
    i++;
  }
  return { ...none('active', 'end'), at };
}

async function render(
  db: Kysely<Database>,
  keys: SiteKeys,
  stepId: string,
  member: { id: string; email: string; name: string | null; referral_code: string; language: string | null },
): Promise<NextEmail['email']> {
  const email = await db
    .selectFrom('automation_emails')
    .select(['id', 'rendered', 'links'])
    .where('step_id', '=', stepId)
    .orderBy('id', 'desc')
    .executeTakeFirst();
  if (!email) return null;
  const sender = await senderFor(db, keys);
  const [message] = batchMessages(
    {
      id: email.id,
      from: sender.from,
      replyTo: sender.replyTo,
      rendered: email.rendered as unknown as RenderedSend,
      links: email.links,
      trackMembers: false,
    },
    // In the member's language, as engine.ts would write it (the site's when theirs is none).
    [
      {
        memberId: member.id,
        email: member.email,
        name: member.name,
        referralCode: member.referral_code,
        variant: 'full',
        language: member.language,
      },
    ],
    keys,
  );
  return { subject: message!.subject, html: message!.html ?? '', text: message!.text ?? '' };
}
