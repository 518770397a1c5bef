import type { Posted } from '../domain/community/comments.ts';

/**
 * The reader's side of the conversation forms: where a form sends the reader back to, and the
 * sentence shown there. Forms redirect (303) to the post with `?c=<what happened>#comment-<id>`.
 */
export const FLASH = {
  posted: 'Your comment is posted.',
  held: 'Thank you! Your comment is waiting for a moderator: only you can see it until it is approved.',
  edited: 'Your comment is saved.',
  deleted: 'Your comment is deleted.',
  reported: 'Thank you: a moderator will look at it.',
  question: 'Marked as a question: the team sees it in their questions inbox.',
  unquestion: 'It is no longer a question.',
} as const;
export type Flash = keyof typeof FLASH;

export function flashMessage(value: string | null): string | null {
  return value && Object.hasOwn(FLASH, value) ? FLASH[value as Flash] : null;
}

export function backToPost(slug: string, flash: Flash | null, anchor: string): string {
  return `/posts/${slug}${flash ? `?c=${flash}` : ''}#${anchor}`;
}

export function afterPosting(slug: string, posted: Posted): string {
  return backToPost(slug, posted.status === 'held' ? 'held' : 'posted', `comment-${posted.id}`);
}

// Made once per zone: building an Intl.DateTimeFormat costs more than rendering a comment.
const timeFormats = new Map<string, Intl.DateTimeFormat>();

/** A comment's time as readers and staff see it, in the site's time zone ("Nov 21, 2026, 11:49 PM Europe/Paris"). */
export function commentTime(at: Date, timeZone: string): string {
  let format = timeFormats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short', timeZone });
    timeFormats.set(timeZone, format);
  }
  return `${format.format(at)} ${timeZone}`;
}
