import type { Posted } from '../domain/community/comments.ts';
import { BoundedMap } from '../lib/bounded-map.ts';
import { MAX_COMMENT_LENGTH, MAX_COMMENT_LINES } from '../domain/community/markdown.ts';
import { ConversationRefusal, type NoCommentReason } from '../domain/community/rules.ts';
import { DomainError, RateLimitedError } from '../lib/errors.ts';
import type { Translator } from '../lib/i18n.ts';
import { statusFor } from './http.ts';

/**
 * The reader's side of the conversation forms: where a form sends the reader back to, and the
 * sentence shown there. Forms redirect (303) to the post with `?c=<what happened>#comment-<id>`.
 */
export const FLASH = {
  posted: 'conversation.flash.posted',
  held: 'conversation.flash.held',
  edited: 'conversation.flash.edited',
  deleted: 'conversation.flash.deleted',
  reported: 'conversation.flash.reported',
  question: 'conversation.flash.question',
  unquestion: 'conversation.flash.unquestion',
} as const;
export type Flash = keyof typeof FLASH;

/** The sentence shown after a form, in the reader's language, from the redirect's `?c=`. */
export function flashMessage(value: string | null, tr: Translator): string | null {
  return value && Object.hasOwn(FLASH, value) ? tr.t(FLASH[value as Flash]) : null;
}

export function backToPost(slug: string, flash: Flash | null, anchor: string): string {
  return `/posts/${slug}${flash ? `?c=${flash}` : ''}#${anchor}`;
}

export function afterPosting(slug: string, posted: Posted): string {
  return backToPost(slug, posted.status === 'held' ? 'held' : 'posted', `comment-${posted.id}`);
}

// Made once per language and zone: building an Intl.DateTimeFormat costs more than rendering a
// comment. Bounded: the zone is a setting and languages are few, but a process never needs many.
export const timeFormats = new BoundedMap<string, Intl.DateTimeFormat>(64);

/**
 * A comment's time as readers and staff see it, in the site's time zone and the reader's
 * language ("Nov 21, 2026, 11:49 PM Europe/Paris", "21 nov. 2026, 23:49 Europe/Paris").
 */
export function commentTime(at: Date, timeZone: string, lang = 'en'): string {
  const key = `${lang}|${timeZone}`;
  let format = timeFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'short', timeZone });
    timeFormats.set(key, format);
  }
  return `${format.format(at)} ${timeZone}`;
}

/** What the reader was doing when a conversation form failed: the rate limit's sentence depends on it. */
export type ConversationAction = 'comment' | 'edit' | 'react' | 'report' | 'other';

/**
 * The reader's sentence for a refused conversation form, in their language, from the domain
 * error's code (its English message is written for the API and the logs). Sets the status.
 * An error this does not know is said in general terms (English readers get its own message).
 */
export function conversationFailure(
  err: unknown,
  response: { status?: number | undefined },
  tr: Translator,
  action: ConversationAction,
): string {
  if (!(err instanceof DomainError)) throw err;
  response.status = statusFor(err);
  return conversationErrorText(err, tr, action);
}

export function conversationErrorText(err: DomainError, tr: Translator, action: ConversationAction): string {
  if (err instanceof RateLimitedError) {
    if (action === 'react') return tr.t('conversation.errors.tooManyReactions');
    if (action === 'report') return tr.t('conversation.errors.tooManyReports');
    return tr.t('conversation.errors.tooManyComments');
  }
  if (err instanceof ConversationRefusal) {
    const { reason, until, limit } = err.details;
    switch (err.code) {
      case 'cannot_comment':
      case 'cannot_react':
        return reason ? noTalkText(tr, reason, until) : tr.t('conversation.errors.staffReact');
      case 'edit_window_over':
        return tr.t('conversation.errors.editWindowOver', { minutes: limit ?? 0 });
    }
  }
  if (err.code === 'comment_too_long') return tr.t('conversation.errors.commentTooLong', { max: MAX_COMMENT_LENGTH });
  if (err.code === 'too_many_lines') return tr.t('conversation.errors.tooManyLines', { max: MAX_COMMENT_LINES });
  const key = ERROR_KEYS[err.code];
  if (key) return tr.t(key);
  return tr.lang === 'en' ? err.message : tr.t('conversation.errors.other');
}

/** The reader's sentence for why they cannot comment (domain/community/rules.ts's NoCommentReason). */
export function noTalkText(tr: Translator, reason: NoCommentReason, until?: Date | null): string {
  switch (reason) {
    case 'sign_in':
      return tr.t('pages.conversation.signIn');
    case 'off':
      return tr.t('pages.conversation.closed');
    case 'paid_only':
      return tr.t('pages.conversation.paidOnly');
    case 'cannot_read':
      return tr.t('pages.conversation.cannotRead');
    case 'banned':
      return until ? tr.t('conversation.notices.bannedUntil', { until: tr.date(until) }) : tr.t('conversation.notices.banned');
    case 'not_allowed':
      return tr.t('conversation.notices.notAllowed');
  }
}

const ERROR_KEYS: Record<string, string> = {
  sign_in: 'conversation.errors.signIn',
  invalid_parent: 'conversation.errors.invalidParent',
  parent_gone: 'conversation.errors.parentGone',
  not_author: 'conversation.errors.notAuthor',
  comment_not_found: 'conversation.errors.commentNotFound',
  comment_hidden: 'conversation.errors.commentHidden',
  reply_not_question: 'conversation.errors.replyNotQuestion',
  invalid_reaction: 'conversation.errors.invalidReaction',
  invalid_reason: 'conversation.errors.invalidReason',
  cannot_report: 'conversation.errors.cannotReport',
  own_comment: 'conversation.errors.ownComment',
  empty_comment: 'conversation.errors.emptyComment',
  unknown_action: 'conversation.errors.unknownAction',
};
