import { escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';
import { emailTranslator, frameLanguage, type EmailLanguage } from './language.ts';
import type { Translator } from '../src/lib/i18n.ts';

/**
 * One email with everything a member is owed about the conversation since the last one: replies
 * to their comments and the brand's answers to their questions. `excerpt` is null when the
 * member may no longer read the post (the reply might quote it): then only the link is given.
 */
export interface ConversationNotice {
  kind: 'reply' | 'answer';
  postTitle: string;
  url: string;
  author: string;
  excerpt: string | null;
}

export interface CommentNotificationsData extends EmailLanguage {
  brand: Brand;
  name: string | null;
  notices: ConversationNotice[];
  /** One click stops these emails (and only these). */
  optOutUrl: string;
}

export function commentNotificationsSubject(notices: ConversationNotice[], brandTitle: string, lang?: string | null): string {
  const tr = emailTranslator(lang);
  const answers = notices.filter((n) => n.kind === 'answer').length;
  if (notices.length === 1)
    return answers === 1
      ? tr.t('emails.comments.subjectAnswer', { site: brandTitle })
      : tr.t('emails.comments.subjectReply', { author: notices[0]!.author });
  if (answers === notices.length) return tr.t('emails.comments.subjectAnswers', { site: brandTitle, count: answers });
  return tr.t('emails.comments.subjectMany', { site: brandTitle, count: notices.length });
}

export function noticeLine(tr: Translator, n: ConversationNotice, site: string): string {
  return n.kind === 'answer'
    ? tr.t('emails.comments.answerLine', { site, post: n.postTitle })
    : tr.t('emails.comments.replyLine', { author: n.author, post: n.postTitle });
}

/** The replies and answers as rows of a table (the body's list). */
export function noticesHtml(tr: Translator, d: CommentNotificationsData): string {
  const read = tr.t('emails.comments.read');
  const items = d.notices
    .map(
      (n) => `<tr><td style="padding:12px 0;border-top:1px solid #e7e5e4;">
<p style="margin:0 0 6px 0;font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#57534e;">${escapeHtml(noticeLine(tr, n, d.brand.title))}</p>
${n.excerpt ? `<p style="margin:0 0 6px 0;">${escapeHtml(n.excerpt)}</p>` : ''}
<p style="margin:0;"><a href="${escapeHtml(n.url)}" style="color:${escapeHtml(d.brand.accentColor)};">${escapeHtml(read)}</a></p>
</td></tr>`,
    )
    .join('\n');
  return `<table role="presentation" width="100%" cellpadding="0" cellspacing="0">${items}</table>`;
}

/** The same list for the text part. */
export function noticesText(tr: Translator, d: CommentNotificationsData): string {
  const read = tr.t('emails.comments.read');
  return d.notices
    .map((n) => `${noticeLine(tr, n, d.brand.title)}${n.excerpt ? `\n\n  ${n.excerpt}` : ''}\n\n  ${read}: ${n.url}`)
    .join('\n\n---\n\n');
}

export function commentNotificationsEmail(d: CommentNotificationsData): RenderedEmail {
  const tr = emailTranslator(d.lang);
  const greeting = d.name ? tr.t('emails.hi', { name: d.name }) : tr.t('emails.hiAnonymous');
  const line = (n: ConversationNotice) => noticeLine(tr, n, d.brand.title);
  const optOut = tr.t('emails.comments.optOut');
  const bodyHtml = `<p>${escapeHtml(greeting)}</p>
${noticesHtml(tr, d)}`;
  const text = `${greeting}

${noticesText(tr, d)}

--
${optOut}: ${d.optOutUrl}
`;
  return {
    subject: commentNotificationsSubject(d.notices, d.brand.title, d.lang),
    html: layout(d.brand, {
      lang: frameLanguage(tr),
      preheader: line(d.notices[0]!),
      bodyHtml,
      footerHtml: `${escapeHtml(tr.t('emails.comments.footer', { site: d.brand.title }))} <a href="${escapeHtml(d.optOutUrl)}" style="color:#78716c;">${escapeHtml(optOut)}</a>`,
    }),
    text,
  };
}
