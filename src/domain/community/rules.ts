import type { CommentsMode, StaffRole } from '../../../db/types.ts';
import { ForbiddenError } from '../../lib/errors.ts';
import { can } from '../staff/permissions.ts';

/**
 * Who may do what in a post's conversation, and when a comment waits for review. Pure
 * functions of their inputs, tested without a database (test/unit/community-rules.test.ts).
 */
export type { CommentsMode };
export type AnonymousView = 'conversation' | 'count';

/** Who is acting: resolved from the session cookies (actorOf in src/web/identity.ts). */
export type Actor =
  | { kind: 'anonymous' }
  | { kind: 'member'; id: string; paid: boolean; tierId: string; name: string | null }
  | { kind: 'staff'; id: string; role: StaffRole; name: string };

/** What conversationRights decides from: the facts about the post, the site and the actor's standing. */
export interface ConversationFacts {
  /** The post's own rule, or the site's default when it has none. */
  mode: CommentsMode;
  /** canRead(viewer, post): a reader who may not read the post never reads its conversation. */
  canReadPost: boolean;
  anonymousView: AnonymousView;
  /** The member is banned from the conversation (until a date still to come). */
  banned: boolean;
}

/** Why someone may not comment, for the message the page shows. */
export type NoCommentReason = 'sign_in' | 'off' | 'paid_only' | 'cannot_read' | 'banned' | 'not_allowed';

export interface Rights {
  /** The whole conversation, or only how many comments there are (and an invitation). */
  read: 'conversation' | 'count';
  comment: boolean;
  react: boolean;
  report: boolean;
  moderate: boolean;
  /** Set when `comment` is false. */
  reason?: NoCommentReason | undefined;
}

export function effectiveMode(postMode: CommentsMode | null | undefined, siteDefault: CommentsMode): CommentsMode {
  return postMode ?? siteDefault;
}

export function conversationRights(actor: Actor, ctx: ConversationFacts): Rights {
  if (actor.kind === 'staff') {
    // Staff read everything; moderators and up speak for the brand (always badged) and moderate.
    const moderate = can(actor.role, 'comments:moderate');
    return { read: 'conversation', comment: moderate, react: false, report: false, moderate, reason: moderate ? undefined : 'not_allowed' };
  }
  if (actor.kind === 'anonymous') {
    const read = ctx.canReadPost && ctx.anonymousView === 'conversation' ? 'conversation' : 'count';
    // On a gated post the paywall already invites them; the conversation only says whose it is.
    return { read, comment: false, react: false, report: false, moderate: false, reason: ctx.canReadPost ? 'sign_in' : 'cannot_read' };
  }
  if (!ctx.canReadPost) return { read: 'count', comment: false, react: false, report: false, moderate: false, reason: 'cannot_read' };
  const reason: NoCommentReason | undefined = ctx.banned
    ? 'banned'
    : ctx.mode === 'off'
      ? 'off'
      : ctx.mode === 'paid' && !actor.paid
        ? 'paid_only'
        : undefined;
  const talk = reason === undefined;
  return { read: 'conversation', comment: talk, react: talk, report: !ctx.banned, moderate: false, reason };
}

/**
 * A refusal that the reader's page words in their language (src/web/conversation-pages.ts):
 * its message is the English one, its details what the sentence needs.
 */
export class ConversationRefusal extends ForbiddenError {
  readonly details: { reason?: NoCommentReason | undefined; until?: Date | null | undefined; limit?: number | undefined };
  constructor(message: string, code: string, details: ConversationRefusal['details']) {
    super(message, code);
    this.details = details;
  }
}

/** The sentence a reader sees instead of the comment form. */
export function noCommentMessage(reason: NoCommentReason, bannedUntil?: Date | null): string {
  switch (reason) {
    case 'sign_in':
      return 'Members can join the conversation.';
    case 'off':
      return 'Comments are closed on this post.';
    case 'paid_only':
      return 'The conversation on this post is for paying members.';
    case 'cannot_read':
      return 'The conversation is for readers of the whole post.';
    case 'banned':
      return bannedUntil
        ? `You cannot comment or react until ${bannedUntil.toISOString().slice(0, 10)}.`
        : 'You cannot comment or react for now.';
    case 'not_allowed':
      return 'Your role does not reply in the conversation.';
  }
}

export type HoldReason = 'burst' | 'link_from_new_member' | 'first_comment' | 'reported' | 'fediverse';

export interface HoldInput {
  /** A staff reply is never held. */
  byStaff: boolean;
  holdFirstComment: boolean;
  /** The author has no published comment yet. */
  firstComment: boolean;
  /** The member joined less than the site's "new member" days ago. */
  newMember: boolean;
  hasLinks: boolean;
  /** Part of a burst of near-identical comments from new accounts (see burst.ts). */
  burst: boolean;
}

/** Why a new (or edited) comment waits for review, or null to publish it. The gravest reason wins. */
export function holdReason(input: HoldInput): HoldReason | null {
  if (input.byStaff) return null;
  if (input.burst) return 'burst';
  if (input.hasLinks && input.newMember) return 'link_from_new_member';
  if (input.firstComment && input.holdFirstComment) return 'first_comment';
  return null;
}

/** A comment reported by this many different members waits for review. */
export const REPORTS_TO_HOLD = 3;

export function holdAfterReports(openReports: number): boolean {
  return openReports >= REPORTS_TO_HOLD;
}

/**
 * Reports hide a comment by weight, not by count: an account made today counts a quarter, a
 * member of less than 30 days one, a member of 30 days or more who was never moderated two, one
 * who was (hidden, removed or banned) a half. A comment is held once its open reports weigh
 * REPORTS_TO_HOLD: three ordinary members as before, two long-standing ones, never a handful of
 * fresh accounts.
 */
export interface Reporter {
  ageDays: number;
  moderated: boolean;
}

export function reportWeight(r: Reporter): number {
  if (r.ageDays < 1) return 0.25;
  if (r.moderated) return 0.5;
  return r.ageDays >= 30 ? 2 : 1;
}

export function holdByReports(reporters: Reporter[]): { held: boolean; weight: number; note: string } {
  const weight = reporters.reduce((s, r) => s + reportWeight(r), 0);
  const long = reporters.filter((r) => !r.moderated && r.ageDays >= 30).length;
  const fresh = reporters.filter((r) => r.ageDays < 1).length;
  const note = `Reports weigh ${weight} (${reporters.length} reports: ${long} from long-standing members never moderated, ${fresh} from accounts made today); ${REPORTS_TO_HOLD} hides.`;
  return { held: weight >= REPORTS_TO_HOLD, weight, note };
}

/** The author may edit a comment for `windowMinutes` after posting it (0: never). */
export function withinEditWindow(createdAt: Date, now: Date, windowMinutes: number): boolean {
  return now.getTime() - createdAt.getTime() <= windowMinutes * 60_000;
}

export const HOLD_LABELS: Record<HoldReason, string> = {
  burst: 'burst of near-identical comments from new accounts',
  link_from_new_member: 'link from a new member',
  first_comment: "member's first comment",
  reported: 'reported by several members',
  fediverse: 'reply from the fediverse (held for review by the site setting)',
};
