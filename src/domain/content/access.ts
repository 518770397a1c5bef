/**
 * Who may read what: the one decision every surface (page, feed, sitemap, OpenGraph, API,
 * email) asks. Pure, so it is tested for every visibility × viewer pair without a database.
 */
export type Visibility = 'public' | 'members' | 'paid' | 'tiers';

/** A post as access sees it: `tierIds` names the tiers of a `tiers` post. */
export interface Gate {
  visibility: Visibility;
  tierIds?: readonly string[] | undefined;
}

export type Viewer =
  { kind: 'anonymous' } | { kind: 'member'; status: string; paid: boolean; tierId?: string | undefined } | { kind: 'staff' };

export const ANONYMOUS: Viewer = { kind: 'anonymous' };

export function canRead(viewer: Viewer, post: Gate): boolean {
  if (post.visibility === 'public' || viewer.kind === 'staff') return true;
  if (viewer.kind === 'anonymous') return false;
  // A member who left, bounced or complained is still a member of the site: what they paid
  // for or signed up for stays readable until their tier changes.
  if (post.visibility === 'members') return true;
  if (post.visibility === 'tiers') return viewer.tierId !== undefined && (post.tierIds ?? []).includes(viewer.tierId);
  return viewer.paid;
}

/** What a reader who may not read the post is invited to do. */
export function callToAction(viewer: Viewer, post: Gate): 'subscribe' | 'upgrade' | null {
  if (canRead(viewer, post)) return null;
  return viewer.kind === 'member' ? 'upgrade' : 'subscribe';
}
