import {
  sharedViewOf,
  type CommentView,
  type ConversationView,
  type ReactionCount,
  type ThreadView,
} from '../domain/community/conversation.ts';
import type { Rights } from '../domain/community/rules.ts';
import type { Translator } from '../lib/i18n.ts';
import { commentTime } from './conversation-pages.ts';
import { REACTION_LABEL_KEYS } from './locale.ts';

/**
 * A post's threads as one HTML string: what every reader gets, written with string
 * concatenation rather than one Astro component per comment (a busy post shows 150 comments;
 * a component each cost most of a signed-in page's time). The markup is the conversation's
 * (styles/conversation.css): plain forms, edit and delete open in <details>, reply and report
 * are links to the comment's own page with their forms, so everything works without JavaScript.
 *
 * Per reader only a little changes (their reactions pressed, their own comments' edit and
 * delete forms, the reply and report links); everything else of a comment is the same for
 * every reader who has the same rights, in one language, and is kept per process (`parts`),
 * keyed by what it shows.
 */

export interface ThreadsContext {
  tr: Translator;
  slug: string;
  rights: Rights;
  brand: string;
  timeZone: string;
  /** Only a member marks their own comment as a question. */
  memberActor: boolean;
  /** On the comment's own page: no links to it. */
  standalone?: boolean | undefined;
}

// Buttons carry no `type="submit"`: it is a form button's default, and a busy page has hundreds of
// them; for the same reason a comment's reaction label is bare text (no span of its own).
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (value: string): string => value.replace(/[&<>"']/g, (ch) => ESCAPES[ch]!);

/** The parts of a published comment that are the same for every reader with these rights. */
interface SharedParts {
  /** The comment's rendered text these parts were made with (compared on every hit). */
  html: string;
  open: string;
  close: string;
}

// Bounded like the Markdown renders: a busy post's comments in a language or two, oldest out first.
const parts = new Map<string, SharedParts>();
const PARTS_MAX = 5_000;

function partsOf(c: CommentView, topLevel: boolean, ctx: ThreadsContext): SharedParts {
  // Everything `open` shows is in the key, or compared on a hit (the text, which is too long for
  // a key): an edit, an answer, a rename or a setting makes a new one. The text is compared, not
  // trusted to the edit time: a text can change without a new edit time (two edits within one
  // millisecond, an erased comment's text), and a comment must never show what it no longer says.
  const key = [
    ctx.tr.lang,
    ctx.timeZone,
    ctx.slug,
    ctx.brand,
    c.id,
    c.editedMs ?? 0,
    c.author,
    c.byStaff ? 1 : 0,
    c.fediverseServer ?? '',
    c.replyingTo ?? '',
    c.edited ? 1 : 0,
    c.question ? 1 : 0,
    c.answered ? 1 : 0,
    c.state,
    c.createdAt.getTime(),
    topLevel ? 1 : 0,
  ].join('\u0000');
  let found = parts.get(key);
  if (found && found.html === c.html) return found;
  found = { html: c.html, open: commentOpen(c, ctx), close: '</article>' };
  if (parts.size >= PARTS_MAX && !parts.has(key)) parts.delete(parts.keys().next().value!);
  parts.set(key, found);
  return found;
}

function commentOpen(c: CommentView, ctx: ThreadsContext): string {
  const { tr, brand } = ctx;
  const classes = ['comment', c.byStaff ? 'by-brand' : '', c.state === 'held' || c.state === 'hidden' ? 'pending' : '']
    .filter(Boolean)
    .join(' ');
  let h = `<article id="comment-${c.id}" class="${classes}" data-testid="comment">`;
  if (c.state === 'removed') return `${h}<p class="removed">${escapeHtml(tr.t('conversation.comment.removed'))}</p>`;
  h += `<header><strong class="author">${escapeHtml(c.author || tr.t('conversation.comment.aMember'))}</strong>`;
  if (c.fediverseServer)
    h += ` <span class="badge fediverse" data-testid="fediverse-badge" title="${escapeHtml(tr.t('conversation.comment.fediverseTitle', { server: c.fediverseServer }))}">${escapeHtml(tr.t('conversation.comment.fediverse'))}</span>`;
  if (c.byStaff) h += ` <span class="badge brand" data-testid="brand-badge">${escapeHtml(brand)}</span>`;
  if (c.question)
    h += ` <span class="badge question" data-testid="question-badge">${escapeHtml(tr.t('conversation.comment.question'))}</span>`;
  if (c.question && c.answered)
    h += ` <span class="badge answered" data-testid="answered-badge">${escapeHtml(tr.t('conversation.comment.answeredBy', { brand }))}</span>`;
  if (c.replyingTo !== null)
    h += ` <span class="muted">${escapeHtml(tr.t('conversation.comment.replyingTo', { name: c.replyingTo || tr.t('conversation.comment.aMember') }))}</span>`;
  h += ` <time datetime="${c.createdAt.toISOString()}">${escapeHtml(commentTime(c.createdAt, ctx.timeZone, tr.lang))}</time>`;
  if (c.edited) h += ` <span class="muted">${escapeHtml(tr.t('conversation.comment.edited'))}</span>`;
  h += '</header>';
  return `${h}<div class="comment-body">${c.html}</div>`;
}

/** The fixed words of the forms, escaped, once per language. */
interface Labels {
  reactions: string;
  reaction: Record<string, string>;
  reply: string;
  edit: string;
  yourComment: string;
  save: string;
  notQuestion: string;
  markQuestion: string;
  delete: string;
  deleteForGood: string;
  report: string;
}
const labelsByLanguage = new Map<string, Labels>();

function labelsOf(tr: Translator): Labels {
  let found = labelsByLanguage.get(tr.lang);
  if (found) return found;
  const t = (key: string) => escapeHtml(tr.t(key));
  found = {
    reactions: t('pages.reactions.comment'),
    reaction: Object.fromEntries(Object.entries(REACTION_LABEL_KEYS).map(([kind, key]) => [kind, t(key)])),
    reply: t('conversation.comment.reply'),
    edit: t('conversation.comment.edit'),
    yourComment: t('conversation.comment.yourComment'),
    save: t('conversation.comment.save'),
    notQuestion: t('conversation.comment.notQuestion'),
    markQuestion: t('conversation.comment.markQuestion'),
    delete: t('conversation.comment.delete'),
    deleteForGood: t('conversation.comment.deleteForGood'),
    report: t('conversation.comment.report'),
  };
  labelsByLanguage.set(tr.lang, found);
  return found;
}

function reactionLabel(labels: Labels, r: ReactionCount): string {
  return labels.reaction[r.kind] ?? escapeHtml(r.label);
}

// A comment's reactions carry no emoji of their own: each is drawn by the stylesheet from the
// button's `value` (or the count's `data-kind`), hidden from screen readers there
// (styles/conversation.css); the label is the button's text. And the comment is named in the
// form's address, not in a hidden field: five emoji and a field were ~230 bytes of every comment
// on a member's page. Neither the emoji nor the id is left out of what the reader gets.
function reactions(c: CommentView, ctx: ThreadsContext, labels: Labels, pressed: Pressed): string {
  if (ctx.rights.react) {
    let h = `<form method="post" action="/posts/${ctx.slug}/reactions?comment=${c.id}" class="reactions" aria-label="${labels.reactions}">`;
    for (const r of c.reactions)
      h += `<button name="kind" value="${r.kind}" aria-pressed="${pressed(r)}">${reactionLabel(labels, r)} ${r.count > 0 ? r.count : ''}</button>`;
    return `${h}</form>`;
  }
  const reacted = c.reactions.filter((r) => r.count > 0);
  if (reacted.length === 0) return '';
  let h = '<p class="reactions">';
  for (const r of reacted) h += `<span data-kind="${r.kind}">${reactionLabel(labels, r)} ${r.count}</span>`;
  return `${h}</p>`;
}

function actions(c: CommentView, topLevel: boolean, ctx: ThreadsContext, l: Labels): string {
  const { rights } = ctx;
  const base = `/posts/${ctx.slug}`;
  const live = c.state === 'published';
  let h = '<div class="comment-actions">';
  // Reply and report are links to the comment's own page, which has their forms: a busy page
  // carried a reply form and a report form with its reasons under every comment.
  const own = `${base}/comments/${c.id}`;
  if (live && rights.comment && !ctx.standalone) h += `<a href="${own}#reply">${l.reply}</a>`;
  if (c.canEdit)
    h += `<details><summary>${l.edit}</summary><form method="post" action="${base}/comments/${c.id}" class="comment-form"><input type="hidden" name="action" value="edit"><label>${l.yourComment} <textarea name="body" rows="4" maxlength="10000" required>${escapeHtml(c.source)}</textarea></label><button>${l.save}</button></form></details>`;
  if (c.mine && topLevel && ctx.memberActor)
    h += `<form method="post" action="${base}/comments/${c.id}" class="inline"><input type="hidden" name="action" value="${c.question ? 'unquestion' : 'question'}"><button class="link">${c.question ? l.notQuestion : l.markQuestion}</button></form>`;
  if (c.mine)
    h += `<details><summary>${l.delete}</summary><form method="post" action="${base}/comments/${c.id}" class="inline"><input type="hidden" name="action" value="delete"><button class="danger-link">${l.deleteForGood}</button></form></details>`;
  if (live && canReport(c, rights) && !ctx.standalone) h += `<a href="${own}#report">${l.report}</a>`;
  return `${h}</div>`;
}

/** Whether this reader may report this comment (on its page, with the reasons). */
export function canReport(c: CommentView, rights: Rights): boolean {
  return rights.report && !c.mine && !c.byStaff;
}

/** The catalogue key of each report reason (domain/community/moderation.ts). */
export const REPORT_REASON_KEYS: Record<string, string> = {
  spam: 'conversation.reasons.spam',
  abuse: 'conversation.reasons.abuse',
  off_topic: 'conversation.reasons.offTopic',
  other: 'conversation.reasons.other',
};

/** The catalogue key of each reason a comment is held (domain/community/rules.ts). */
export const HOLD_REASON_KEYS: Record<string, string> = {
  burst: 'conversation.holds.burst',
  link_from_new_member: 'conversation.holds.linkFromNewMember',
  first_comment: 'conversation.holds.firstComment',
  reported: 'conversation.holds.reported',
  fediverse: 'conversation.holds.fediverse',
};

/** A reaction button's `aria-pressed`: the reader's own reaction or not. */
type Pressed = (r: ReactionCount) => string;
const pressedOf: Pressed = (r) => (r.mine ? 'true' : 'false');

/**
 * A lasting comment's markup for one kind of reader (same language, time zone, post, brand and
 * rights) up to its replies, as UTF-8 with every reaction button unpressed (`aria-pressed="false"`),
 * and where each button's `false` starts. A member's page copies it, swapping in `true` for their
 * own reactions: no comment is written again and the threads (most of a busy page) are not
 * encoded again. `null` when it cannot be cut (a text holding the cut mark): then the comment is
 * written in full. Bounded like the shared parts, oldest out.
 */
interface Template {
  whole: Buffer;
  /** Byte offset of each reaction button's `false`, in the order of `kinds`. */
  slots: number[];
  kinds: string[];
}
const templates = new Map<CommentView, Map<string, Template | null>>();
const TEMPLATES_MAX = 5_000;
// Where a template is cut: NUL is in no text PostgreSQL stores, nor in a Markdown render.
const CUT = '\u0000';
const cut: Pressed = () => CUT;
const TRUE = Buffer.from('true');
const FALSE = 'false';
const REPLIES_OPEN = Buffer.from('<div class="replies">');
const REPLIES_CLOSE = Buffer.from('</div>');
const CLOSE = Buffer.from('</article>');

function templateOf(view: CommentView, topLevel: boolean, ctx: ThreadsContext, key: string): Template | null {
  let byReader = templates.get(view);
  if (!byReader) {
    if (templates.size >= TEMPLATES_MAX) templates.delete(templates.keys().next().value!);
    byReader = new Map();
    templates.set(view, byReader);
  }
  const k = topLevel ? `t${key}` : `r${key}`;
  let found = byReader.get(k);
  if (found === undefined) {
    const parts = commentHead(view, topLevel, ctx, cut).split(CUT);
    const kinds = ctx.rights.react && view.state === 'published' ? view.reactions.map((r) => r.kind) : [];
    found = null;
    if (parts.length === kinds.length + 1) {
      const slots: number[] = [];
      let at = 0;
      for (let i = 0; i < kinds.length; i++) {
        at += Buffer.byteLength(parts[i]!);
        slots.push(at);
        at += FALSE.length;
      }
      found = { whole: Buffer.from(parts.join(FALSE)), slots, kinds };
    }
    byReader.set(k, found);
  }
  return found;
}

/** Whether a reader's copy of a comment keeps the reactions of the template (in order), so the template serves. */
function fits(c: CommentView, kinds: string[]): boolean {
  if (c.reactions.length !== kinds.length) return false;
  for (let i = 0; i < kinds.length; i++) if (c.reactions[i]!.kind !== kinds[i]) return false;
  return true;
}

/** A comment up to its replies, into `out`: from its lasting template when it has one, else written in full. */
function headInto(out: Uint8Array[], c: CommentView, topLevel: boolean, ctx: ThreadsContext, key: string): void {
  const base = sharedViewOf(c);
  const template = base ? templateOf(base, topLevel, ctx, key) : null;
  if (template === null || !fits(c, template.kinds)) {
    out.push(Buffer.from(commentHead(c, topLevel, ctx, pressedOf)));
    return;
  }
  const { whole, slots } = template;
  let from = 0;
  for (let i = 0; i < slots.length; i++) {
    if (!c.reactions[i]!.mine) continue;
    out.push(whole.subarray(from, slots[i]), TRUE);
    from = slots[i]! + FALSE.length;
  }
  out.push(from === 0 ? whole : whole.subarray(from));
}

/** What a template's reader key is made of: everything of the context a comment's markup shows. */
function readerKey(ctx: ThreadsContext): string {
  const { rights } = ctx;
  return [
    ctx.tr.lang,
    ctx.timeZone,
    ctx.slug,
    ctx.brand,
    rights.comment ? 1 : 0,
    rights.react ? 1 : 0,
    rights.report ? 1 : 0,
    ctx.memberActor ? 1 : 0,
    ctx.standalone ? 1 : 0,
  ].join('\u0000');
}

/** A comment's markup before its replies (its `</article>` comes after them). */
function commentHead(c: CommentView, topLevel: boolean, ctx: ThreadsContext, pressed: Pressed): string {
  const shared = partsOf(c, topLevel, ctx);
  if (c.state === 'removed') return shared.open;
  let state = '';
  if (c.state === 'held') {
    const reason = c.holdReason ? HOLD_REASON_KEYS[c.holdReason] : undefined;
    state = `<p class="state" role="status">${escapeHtml(
      reason ? ctx.tr.t('conversation.comment.heldWhy', { reason: ctx.tr.t(reason) }) : ctx.tr.t('conversation.comment.held'),
    )}</p>`;
  } else if (c.state === 'hidden') {
    state = `<p class="state" role="status">${escapeHtml(ctx.tr.t('conversation.comment.hidden'))}</p>`;
  }
  // The state notice goes between the header and the body: split the shared head there.
  const open = state ? shared.open.replace('</header>', `</header>${state}`) : shared.open;
  const live = c.state === 'published';
  const labels = labelsOf(ctx.tr);
  return open + (live ? reactions(c, ctx, labels, pressed) : '') + actions(c, topLevel, ctx, labels);
}

function thread(out: Uint8Array[], t: ThreadView, ctx: ThreadsContext, key: string): void {
  headInto(out, t.comment, true, ctx, key);
  if (t.replies.length > 0) {
    out.push(REPLIES_OPEN);
    for (const r of t.replies) {
      headInto(out, r, false, ctx, key);
      out.push(CLOSE);
    }
    out.push(REPLIES_CLOSE);
  }
  out.push(CLOSE);
}

/** One comment alone, as on its own page (its reply and report forms are the page's). */
export function commentHtml(c: CommentView, topLevel: boolean, ctx: ThreadsContext): string {
  const standalone = { ...ctx, standalone: true };
  const out: Uint8Array[] = [];
  headInto(out, c, topLevel, standalone, readerKey(standalone));
  out.push(CLOSE);
  return Buffer.concat(out).toString('utf8');
}

/** The threads of a conversation as UTF-8 HTML (the caller wraps them in `<div class="threads">`). */
export function threadsBytes(view: Pick<ConversationView, 'threads'>, ctx: ThreadsContext): Buffer {
  const key = readerKey(ctx);
  const out: Uint8Array[] = [];
  for (const t of view.threads) thread(out, t, ctx, key);
  return Buffer.concat(out);
}

/** The threads of a conversation as HTML (the caller wraps them in `<div class="threads">`). */
export function threadsHtml(view: Pick<ConversationView, 'threads'>, ctx: ThreadsContext): string {
  return threadsBytes(view, ctx).toString('utf8');
}
