import { escapeHtml, layout, type Brand, type RenderedEmail } from './html.ts';

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

export interface CommentNotificationsData {
  brand: Brand;
  name: string | null;
  notices: ConversationNotice[];
  /** One click stops these emails (and only these). */
  optOutUrl: string;
}

export function commentNotificationsSubject(notices: ConversationNotice[], brandTitle: string): string {
  const answers = notices.filter((n) => n.kind === 'answer').length;
  if (notices.length === 1) return answers === 1 ? `${brandTitle} answered your question` : `${notices[0]!.author} replied to you`;
  if (answers === notices.length) return `${brandTitle} answered ${answers} of your questions`;
  return `${notices.length} new replies to you on ${brandTitle}`;
}

export function commentNotificationsEmail(d: CommentNotificationsData): RenderedEmail {
  const greeting = d.name ? `Hi ${d.name},` : 'Hi,';
  const line = (n: ConversationNotice) =>
    n.kind === 'answer' ? `${d.brand.title} answered your question on “${n.postTitle}”` : `${n.author} replied to you on “${n.postTitle}”`;
  const items = d.notices
    .map(
      (n) => `<tr><td style="padding:12px 0;border-top:1px solid #e7e5e4;">
<p style="margin:0 0 6px 0;font-family:Helvetica,Arial,sans-serif;font-size:14px;color:#57534e;">${escapeHtml(line(n))}</p>
${n.excerpt ? `<p style="margin:0 0 6px 0;">${escapeHtml(n.excerpt)}</p>` : ''}
<p style="margin:0;"><a href="${escapeHtml(n.url)}" style="color:${escapeHtml(d.brand.accentColor)};">Read it and reply</a></p>
</td></tr>`,
    )
    .join('\n');
  const bodyHtml = `<p>${escapeHtml(greeting)}</p>
<table role="presentation" width="100%" cellpadding="0" cellspacing="0">${items}</table>`;
  const text = `${greeting}

${d.notices.map((n) => `${line(n)}${n.excerpt ? `\n\n  ${n.excerpt}` : ''}\n\n  Read it and reply: ${n.url}`).join('\n\n---\n\n')}

--
Stop emails about replies and answers: ${d.optOutUrl}
`;
  return {
    subject: commentNotificationsSubject(d.notices, d.brand.title),
    html: layout(d.brand, {
      preheader: line(d.notices[0]!),
      bodyHtml,
      footerHtml: `You get this because you joined the conversation on ${escapeHtml(d.brand.title)}. <a href="${escapeHtml(d.optOutUrl)}" style="color:#78716c;">Stop emails about replies and answers</a>`,
    }),
    text,
  };
}
