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

// Made once: building an Intl.DateTimeFormat costs more than rendering a comment.
const timeFormat = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

/** A comment's time as readers and staff see it ("Nov 21, 2026, 10:49 PM UTC"). */
export function commentTime(at: Date): string {
  return `${timeFormat.format(at)} UTC`;
}
