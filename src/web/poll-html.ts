import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { escapeHtml } from '../../emails/html.ts';
import { isOpen, pollsById, type Poll } from '../domain/polls/polls.ts';
import { memberAnswer, pollResults, type PollResults } from '../domain/polls/votes.ts';
import { getSiteSettings } from '../domain/site/settings.ts';
import { isLanguage, translator, type Translator } from '../lib/i18n.ts';
import type { Presence } from './identity.ts';
import { readerPercent } from './reader-text.ts';

/**
 * A poll on a page: the question, a form for a signed-in member (POST /polls/:id, the origin check
 * of every reader form applies), the current results, and for anyone else a sign-in prompt.
 * Plain HTML that works without JavaScript, in the reader's language (`tr`, from web/locale.ts).
 */
export interface PollView {
  poll: Poll;
  results: PollResults;
  open: boolean;
  /** The member's current answer (null: none yet; undefined: not a member). */
  mine: number | null | undefined;
}

export async function pollView(db: Kysely<Database>, poll: Poll, presence: Presence): Promise<PollView> {
  const [results, mine] = await Promise.all([
    pollResults(db, poll),
    presence.kind === 'member' ? memberAnswer(db, poll.id, presence.member.id) : Promise.resolve(undefined),
  ]);
  return { poll, results, open: isOpen(poll), mine };
}

export function resultsHtml(view: PollView, tr: Translator): string {
  const { results } = view;
  const items = results.answers
    .map((a) => {
      const pct = results.total === 0 ? 0 : Math.round((a.votes / results.total) * 100);
      const mine = view.mine === a.answer ? ` <span class="poll-mine">${escapeHtml(tr.t('reader.poll.yours'))}</span>` : '';
      return `<li data-answer="${a.answer}"><span class="poll-answer">${escapeHtml(a.text)}</span>${mine} <span class="poll-count">${a.votes} · ${readerPercent(tr, pct)}</span><span class="poll-bar" style="display:block;height:6px;background:currentColor;opacity:.35;width:${pct}%"></span></li>`;
    })
    .join('');
  return `<ul class="poll-results" data-total="${results.total}">${items}</ul><p class="muted poll-total">${tr.html('reader.poll.total', { count: results.total })}</p>`;
}

export function pollHtml(view: PollView, presence: Presence, returnTo: string, tr: Translator): string {
  const { poll } = view;
  const head = `<h3 class="poll-question">${escapeHtml(poll.question)}</h3>`;
  let action = '';
  if (!view.open) action = `<p class="poll-closed">${tr.html('reader.poll.closed')}</p>`;
  else if (presence.kind === 'member') {
    const options = poll.answers
      .map(
        (a, i) =>
          `<label class="check"><input type="radio" name="answer" value="${i}"${view.mine === i ? ' checked' : ''} required /> ${escapeHtml(a)}</label>`,
      )
      .join('');
    action = `<form method="post" action="/polls/${poll.id}" class="poll-form"><input type="hidden" name="return" value="${escapeHtml(returnTo)}" />${options}<button type="submit">${tr.html(view.mine === null || view.mine === undefined ? 'reader.poll.answer' : 'reader.poll.change')}</button></form>`;
  } else if (presence.kind === 'anonymous') {
    const signIn = (chunks: string[]) => `<a href="/signin?return=${encodeURIComponent(returnTo)}">${chunks.join('')}</a>`;
    action = `<p class="poll-signin">${tr.html('reader.poll.signIn', {}, { a: signIn })}</p>`;
  }
  return `<section class="poll" id="poll-${poll.id}" data-poll="${poll.id}">${head}${action}${resultsHtml(view, tr)}</section>`;
}

const PLACEHOLDER = /<p class="poll-link" data-poll="(\d{1,18})"><a href="\/polls\/\d{1,18}">Answer the poll<\/a><\/p>/g;

/**
 * The reader's language when the caller has no translator at hand: the signed-in member's, else
 * the site's (the rule of web/locale.ts, from the presence already worked out).
 */
async function presenceTranslator(db: Kysely<Database>, presence: Presence): Promise<Translator> {
  const site = await getSiteSettings(db);
  const own = presence.kind === 'member' ? presence.member.language : null;
  return translator(own && isLanguage(own) ? own : site.language, site.timeZone);
}

/**
 * Replaces the poll placeholders of a post's HTML (content/posts.ts puts them where the Markdown
 * has {{poll:<id>}}, in the part this reader may see) with live polls. A missing poll disappears.
 * A page that has its translator (readerLocale) passes it; otherwise it is worked out here, only
 * when the post has a poll.
 */
export async function fillPolls(
  db: Kysely<Database>,
  html: string,
  presence: Presence,
  returnTo: string,
  tr?: Translator,
): Promise<string> {
  const ids = [...html.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  if (ids.length === 0) return html;
  const [polls, lang] = await Promise.all([pollsById(db, ids), tr ?? presenceTranslator(db, presence)]);
  const rendered = new Map<string, string>();
  for (const [id, poll] of polls) rendered.set(id, pollHtml(await pollView(db, poll, presence), presence, `${returnTo}#poll-${id}`, lang));
  return html.replace(PLACEHOLDER, (_m, id: string) => rendered.get(id) ?? '');
}
