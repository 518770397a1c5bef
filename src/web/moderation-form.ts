import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { answerQuestion, banMember, isModerationAction, liftBan, moderateComment, moderateComments } from '../domain/community/moderation.ts';
import { ValidationError } from '../lib/errors.ts';
import type { SessionStaffUser } from '../domain/staff/sessions.ts';
import { staffActor } from './identity.ts';

/**
 * The moderation forms of the admin's conversation pages (queue, questions, comments, bans):
 * one field `action` names what to do, one domain call does it. The page then redirects with
 * `?done=<key>` (post/redirect/get: a reload never answers twice) and shows `DONE[key]`.
 */
export interface ModerationFormContext {
  secret: string;
  siteUrl: string;
  clientIp: string;
}

export const DONE = {
  approve: 'Approved: the comment is published.',
  restore: 'Restored: the comment is published.',
  hide: 'Hidden: only its author sees it now.',
  delete: 'Deleted: nobody sees it now (it can be restored).',
  dismiss: 'Reports dismissed.',
  bulk: 'Done for the ticked comments (those not in a state for it were skipped).',
  ban: 'Banned from the conversation until the end of that day (UTC).',
  lift: 'Ban lifted.',
  answer: 'Answered: your reply is under the question, with the brand badge.',
} as const;
export type Done = keyof typeof DONE;

export function doneMessage(key: string | null): string {
  return key && Object.hasOwn(DONE, key) ? DONE[key as Done] : '';
}

/** The page's own address with `done` set, for the redirect after a form. */
export function afterForm(url: URL, done: Done): string {
  const params = new URLSearchParams(url.search);
  params.set('done', done);
  return `${url.pathname}?${params.toString()}`;
}

export async function handleModerationForm(db: Kysely<Database>, ctx: ModerationFormContext, staff: SessionStaffUser, fields: { get(name: string): string; getAll(name: string): string[] }): Promise<Done> {
  const action = fields.get('action');
  const id = fields.get('id').trim();
  if (isModerationAction(action)) {
    await moderateComment(db, staff.id, id, action, fields.get('note'));
    return action;
  }
  if (action === 'bulk') {
    const bulk = fields.get('bulk');
    if (!isModerationAction(bulk)) throw new ValidationError('Choose what to do with the ticked comments.', 'invalid_action');
    const ids = fields.getAll('ids');
    if (ids.length === 0) throw new ValidationError('Tick at least one comment.', 'nothing_selected');
    await moderateComments(db, staff.id, ids, bulk);
    return 'bulk';
  }
  if (action === 'ban') {
    const until = fields.get('until');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(until)) throw new ValidationError('Choose the date the ban ends.', 'invalid_until');
    await banMember(db, staff.id, fields.get('member').trim(), new Date(`${until}T23:59:59Z`), fields.get('reason').trim());
    return 'ban';
  }
  if (action === 'lift') {
    await liftBan(db, staff.id, fields.get('member').trim());
    return 'lift';
  }
  if (action === 'answer') {
    await answerQuestion(db, { secret: ctx.secret, siteUrl: ctx.siteUrl }, staffActor(staff), id, fields.get('body'), ctx.clientIp);
    return 'answer';
  }
  throw new ValidationError('Unknown action.', 'unknown_action');
}
