import type { Kysely } from 'kysely';
import type { Database } from '../../db/types.ts';
import { escapeHtml } from '../../emails/html.ts';
import { isOpen, pollsById, type Poll } from '../domain/polls/polls.ts';
import { memberAnswer, pollResults, type PollResults } from '../domain/polls/votes.ts';
import type { Presence } from './identity.ts';

/**
 * A poll on a page: the question, a form for a signed-in member (POST /polls/:id, the origin check
 * of every reader form applies), the current results, and for anyone else a sign-in prompt.
 * Plain HTML that works without JavaScript.
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

export function resultsHtml(view: PollView): string {
  const { results } = view;
  const items = results.answers
    .map((a) => {
      const pct = results.total === 0 ? 0 : Math.round((a.votes / results.total) * 100);
      const mine = view.mine === a.answer ? ' <span class="poll-mine">(your answer)</span>' : '';
      return `<li data-answer="${a.answer}"><span class="poll-answer">${escapeHtml(a.text)}</span>${mine} <span class="poll-count">${a.votes} · ${pct}%</span><span class="poll-bar" style="display:block;height:6px;background:currentColor;opacity:.35;width:${pct}%"></span></li>`;
    })
    .join('');
  return `<ul class="poll-results" data-total="${results.total}">${items}</ul><p class="muted poll-total">${results.total} ${results.total === 1 ? 'answer' : 'answers'}</p>`;
}

export function pollHtml(view: PollView, presence: Presence, returnTo: string): string {
  const { poll } = view;
  const head = `<h3 class="poll-question">${escapeHtml(poll.question)}</h3>`;
  let action = '';
  if (!view.open) action = '<p class="poll-closed">This poll is closed.</p>';
  else if (presence.kind === 'member') {
    const options = poll.answers
      .map(
        (a, i) =>
          `<label class="check"><input type="radio" name="answer" value="${i}"${view.mine === i ? ' checked' : ''} required /> ${escapeHtml(a)}</label>`,
      )
      .join('');
    action = `<form method="post" action="/polls/${poll.id}" class="poll-form"><input type="hidden" name="return" value="${escapeHtml(returnTo)}" />${options}<button type="submit">${view.mine === null || view.mine === undefined ? 'Answer' : 'Change my answer'}</button></form>`;
  } else if (presence.kind === 'anonymous') {
    action = `<p class="poll-signin"><a href="/signin?return=${encodeURIComponent(returnTo)}">Sign in</a> to answer.</p>`;
  }
  return `<section class="poll" id="poll-${poll.id}" data-poll="${poll.id}">${head}${action}${resultsHtml(view)}</section>`;
}

const PLACEHOLDER = /<p class="poll-link" data-poll="(\d{1,18})"><a href="\/polls\/\d{1,18}">Answer the poll<\/a><\/p>/g;

/**
 * Replaces the poll placeholders of a post's HTML (content/posts.ts puts them where the Markdown
 * has {{poll:<id>}}, in the part this reader may see) with live polls. A missing poll disappears.
 */
export async function fillPolls(db: Kysely<Database>, html: string, presence: Presence, returnTo: string): Promise<string> {
  const ids = [...html.matchAll(PLACEHOLDER)].map((m) => m[1]!);
  if (ids.length === 0) return html;
  const polls = await pollsById(db, ids);
  const rendered = new Map<string, string>();
  for (const [id, poll] of polls) rendered.set(id, pollHtml(await pollView(db, poll, presence), presence, `${returnTo}#poll-${id}`));
  return html.replace(PLACEHOLDER, (_m, id: string) => rendered.get(id) ?? '');
}
