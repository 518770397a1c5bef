import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import {
  answerQuestion,
  banMember,
  isModerationAction,
  liftBan,
  moderateComment,
  moderateComments,
} from '../domain/community/moderation.ts';
import type { SessionStaffUser } from '../domain/staff/sessions.ts';
import { ValidationError } from '../lib/errors.ts';
import type { SiteKeys } from '../lib/site-keys.ts';
import { staffActor } from './identity.ts';
import { field, type Fields } from './request-data.ts';

/**
 * The moderation forms of the admin's conversation pages (queue, questions, comments, bans): the
 * field `action` names what to do, one domain call does it. The page then redirects with
 * `?done=<key>` (post/redirect/get: a reload never answers twice) and shows `doneMessage(key)`.
 */
export interface Moderator {
  staff: SessionStaffUser;
  clientIp: string;
}

export async function handleModerationForm(db: Kysely<Database>, keys: SiteKeys, by: Moderator, form: Fields): Promise<Done> {
  const action = field(form, 'action');
  if (isModerationAction(action)) {
    await moderateComment(db, by.staff.id, field(form, 'id'), action, form.get('note'));
    return action;
  }
  switch (action) {
    case 'bulk':
      await moderateTicked(db, by, form);
      return 'bulk';
    case 'ban':
      await banMember(db, by.staff.id, field(form, 'member'), banEnd(field(form, 'until')), field(form, 'reason'));
      return 'ban';
    case 'lift':
      await liftBan(db, by.staff.id, field(form, 'member'));
      return 'lift';
    case 'answer':
      await answerQuestion(db, keys, staffActor(by.staff), field(form, 'id'), form.get('body'), by.clientIp);
      return 'answer';
    default:
      throw new ValidationError('Unknown action.', 'unknown_action');
  }
}

/** The same action on every ticked comment (`ids`), chosen in the `bulk` select. */
async function moderateTicked(db: Kysely<Database>, by: Moderator, form: Fields): Promise<void> {
  const bulk = form.get('bulk');
  if (!isModerationAction(bulk)) throw new ValidationError('Choose what to do with the ticked comments.', 'invalid_action');
  const ids = form.getAll('ids');
  if (ids.length === 0) throw new ValidationError('Tick at least one comment.', 'nothing_selected');
  await moderateComments(db, by.staff.id, ids, bulk);
}

/** A ban runs to the end of the chosen day, UTC. */
function banEnd(until: string): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(until)) throw new ValidationError('Choose the date the ban ends.', 'invalid_until');
  return new Date(`${until}T23:59:59Z`);
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
