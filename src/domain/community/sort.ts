/**
 * The order of a conversation. Pure, tested without a database.
 * - newest: the latest top-level comments first;
 * - best: the ones that moved people (reactions from distinct members, replies, an answer from
 *   the brand) first; equal scores keep the older first, so a quiet post reads in order.
 * Replies under a comment are always oldest first, except that the brand's replies to a
 * question come right under it (the answer is shown with the question).
 */
export type CommentSort = 'newest' | 'best';

export function parseSort(value: string | null | undefined): CommentSort {
  return value === 'best' ? 'best' : 'newest';
}

export interface Rankable {
  id: string;
  createdAt: Date;
  reactions: number;
  replies: number;
  staffReplied: boolean;
}

export function bestScore(c: Pick<Rankable, 'reactions' | 'replies' | 'staffReplied'>): number {
  return c.reactions + 2 * c.replies + (c.staffReplied ? 3 : 0);
}

const byAge = (a: Rankable, b: Rankable) => a.createdAt.getTime() - b.createdAt.getTime() || Number(BigInt(a.id) - BigInt(b.id));

export function sortThreads<T extends Rankable>(threads: readonly T[], sort: CommentSort): T[] {
  const list = [...threads];
  if (sort === 'newest') return list.sort((a, b) => byAge(b, a));
  return list.sort((a, b) => bestScore(b) - bestScore(a) || byAge(a, b));
}

export function orderReplies<T extends { id: string; createdAt: Date; byStaff: boolean }>(
  replies: readonly T[],
  parentIsQuestion: boolean,
): T[] {
  const age = (a: T, b: T) => a.createdAt.getTime() - b.createdAt.getTime() || Number(BigInt(a.id) - BigInt(b.id));
  return [...replies].sort((a, b) => (parentIsQuestion ? Number(b.byStaff) - Number(a.byStaff) : 0) || age(a, b));
}
